"""Two tabs on two concepts in headless Chromium (real server, tiny CLIP): while another tab makes
"positive" the server's current concept, "more like this" (the M key and a dropped image), the review
page and gallery corrections in a "glasses" tab write to the glasses journal only, and the other way
round. The journals are read from disk and told apart by the concept their first event names."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import orjson
import pytest
from live_server import ServerProcess, call

from fastlabel.concepts import journal_concept

pytestmark = pytest.mark.browser

from test_browser import (  # noqa: E402  (skips without Chromium)
    CHROMIUM, LAUNCH_ARGS, READY_TIMEOUT_S, TEXT_ENCODER, VIEWPORT, drop_image, open_page)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(new_home, tmp_path_factory):
    """Two concepts with 48 labels each (so both have a review page); "glasses" is current."""
    srv = ServerProcess(new_home("browser-tabs"), tmp_path_factory.mktemp("tabs") / "faces.jsonl",
                        args=TEXT_ENCODER, ready_timeout=READY_TIMEOUT_S)
    srv.start()
    assert srv.post("/api/concepts", {"name": "glasses"})[0] == 201
    for concept in ("positive", "glasses"):
        for _ in range(2):
            batch = srv.get(f"/api/next_batch?batch_size=24&concept={concept}")[1]
            labels = [{"id": it["id"], "label": int(it["id"] % 3 == 0)} for it in batch["items"]]
            status, body = srv.post(f"/api/submit_labels?batch_id={batch['batch_id']}&concept={concept}", labels)
            assert status == 200, body
    yield srv
    srv.kill9()


def journals(server: ServerProcess) -> dict[str, list[dict]]:
    """Every concept's journal on disk, by the concept its first event names."""
    paths = [server.journal, *sorted(server.journal.with_name(server.journal.stem + ".concepts").glob("*.jsonl"))]
    out: dict[str, list[dict]] = {}
    for path in paths:
        out[journal_concept(path)] = [orjson.loads(line) for line in Path(path).read_bytes().splitlines() if line]
    return out


def new_events(before: dict[str, list[dict]], server: ServerProcess) -> dict[str, list[dict]]:
    return {name: events[len(before.get(name, [])):] for name, events in journals(server).items()}


def served(events: list[dict], strategy: str) -> int:
    return sum(1 for e in events if e["type"] == "batch_served" and e["strategy"] == strategy)


def corrections(events: list[dict]) -> list[str]:
    return [e["origin"] for e in events if e["type"] == "labels_corrected"]


def settled(page: Page) -> None:
    expect(page.locator("#confirm")).to_be_enabled()


def confirm(page: Page, path: str) -> None:
    with page.expect_response(lambda r: path in r.url) as resp:
        page.keyboard.press("Enter")
    assert resp.value.ok, resp.value.text()
    settled(page)


def more_like_focused(page: Page) -> None:
    page.keyboard.press("ArrowRight")  # focus a card, then M
    with page.expect_response(lambda r: "strategy=similar" in r.url) as resp:
        page.keyboard.press("m")
    assert resp.value.ok, resp.value.text()
    expect(page.locator("#page-info")).to_contain_text("More like this")
    settled(page)


def correct_one(page: Page, view: str, path: str) -> None:
    """Open the review page or the gallery, flip its first card, confirm the correction."""
    with page.expect_response(lambda r: path in r.url):
        page.click(f"[data-view={view}]")
    settled(page)
    page.click("#grid .card:nth-child(1)")
    with page.expect_response(lambda r: "/api/correct" in r.url) as resp:
        page.keyboard.press("Enter")
    assert resp.value.ok, resp.value.text()
    settled(page)
    page.click("[data-view=label]")
    settled(page)


def test_each_tab_writes_to_its_own_concept(server: ServerProcess) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(viewport=VIEWPORT)
        glasses = open_page(context, server, path="/?concept=glasses")
        other = open_page(context, server, path="/?concept=glasses")
        with other.expect_response(lambda r: "/api/next_batch" in r.url):
            other.select_option("#concept-picker", "positive")  # the other tab makes "positive" current
        settled(other)
        assert call("GET", f"{server.base}/api/concepts")[1]["current"] == "positive"
        expect(glasses.locator("#concept-picker")).to_have_value("glasses")
        before = journals(server)

        more_like_focused(glasses)
        assert new_events(before, server)["positive"] == []  # the page came from the tab's concept
        confirm(glasses, "/api/submit_labels")
        with glasses.expect_response(lambda r: "/api/similar_image" in r.url) as resp:
            drop_image(glasses)
        assert resp.value.ok, resp.value.text()
        settled(glasses)
        confirm(glasses, "/api/submit_labels")
        correct_one(glasses, "review", "/api/review")
        correct_one(glasses, "gallery", "/api/labeled")
        for link in glasses.eval_on_selector_all("a[data-api], #export-model", "ls => ls.map(l => l.href)"):
            assert parse_qs(urlparse(link).query)["concept"] == ["glasses"], link

        added = new_events(before, server)
        assert added["positive"] == [], [e["type"] for e in added["positive"]]
        assert served(added["glasses"], "similar") == 2
        assert served(added["glasses"], "review") == 2  # the review page, and the next one after its correction
        assert sum(e["type"] == "labels_submitted" for e in added["glasses"]) == 2
        assert corrections(added["glasses"]) == ["review", "gallery"]

        assert server.post("/api/concepts/current", {"name": "glasses"})[0] == 200  # and the other way round
        before = journals(server)
        more_like_focused(other)
        confirm(other, "/api/submit_labels")
        correct_one(other, "review", "/api/review")
        added = new_events(before, server)
        assert added["glasses"] == [], [e["type"] for e in added["glasses"]]
        assert served(added["positive"], "similar") == 1 and corrections(added["positive"]) == ["review"]
        assert glasses.js_errors == [] and other.js_errors == []
        browser.close()
