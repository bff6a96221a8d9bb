""""More like this" in the page (headless Chromium, real server, tiny CLIP): the card button, the
M key, a dropped image, and a worked page that is never thrown away; and two tabs on two concepts,
each of which writes to its own concept's journal whatever concept the server has current."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import orjson
import pytest
from live_server import ServerProcess, call

from fastlabel.concepts import journal_concept
from test_browser import CHROMIUM, browser, context, drop_image, open_page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"system Chromium not found at {CHROMIUM}", allow_module_level=True)
from playwright.sync_api import Page, expect  # noqa: E402


def page_ids(page) -> list[int]:
    return page.eval_on_selector_all("#grid .card", "cards => cards.map(c => Number(c.dataset.id))")


def similar_page(response) -> bool:
    return "strategy=similar" in response.url or "/api/similar_image" in response.url


def shown_as_sent(page, body: dict) -> bool:
    """The strategy's cards start positive; the two audit cards start with the model's guess
    (negative while there is no model); each card shows the label the server sent it with."""
    audit = set(body["audit"])
    cold = all(it["prob_pos"] == 0.5 for it in body["items"])
    guess = {it["id"]: 0 if cold else int(it["prob_pos"] >= 0.5) for it in body["items"]}
    assert len(audit) == 2
    assert all(it["prelabel"] == (guess[it["id"]] if it["id"] in audit else 1) for it in body["items"])
    shown = dict(page.eval_on_selector_all(
        "#grid .card", "cards => cards.map(c => [Number(c.dataset.id), c.classList.contains('is-positive')])"))
    return shown == {it["id"]: it["prelabel"] == 1 for it in body["items"]}


def test_more_like_this_from_a_card_a_key_and_a_dropped_image(server, context):  # noqa: F811
    page = open_page(context, server)
    first = page_ids(page)
    card = page.locator("#grid .card").first
    card.hover()
    with page.expect_response(similar_page) as resp:
        card.locator(".card-similar").click()  # the button, not a flip of the card
    expect(page.locator("#page-info")).to_contain_text("More like this")
    assert "mode-positive" in page.get_attribute("body", "class")
    similar = page_ids(page)
    assert similar != first and first[0] not in similar and shown_as_sent(page, resp.value.json())

    page.keyboard.press("ArrowRight")  # focus the first card, then M
    focused = page_ids(page)[0]
    with page.expect_response(similar_page) as resp:
        page.keyboard.press("m")
    page.wait_for_function("id => !document.querySelector(`#grid .card[data-id='${id}']`)", arg=focused)
    assert shown_as_sent(page, resp.value.json())

    before = page_ids(page)
    with page.expect_response(similar_page) as resp:
        drop_image(page)
    page.wait_for_function("ids => [...document.querySelectorAll('#grid .card')].map(c => +c.dataset.id).join() !== ids",
                           arg=",".join(map(str, before)))
    assert shown_as_sent(page, resp.value.json()) and page.locator(".toast-error").count() == 0
    assert page.js_errors == []


def test_a_worked_page_is_kept_and_a_bad_drop_is_a_toast(server, context):  # noqa: F811
    page = open_page(context, server)
    page.locator("#grid .card").nth(1).click()  # one flip: the page now holds the user's work
    ids = page_ids(page)
    page.keyboard.press("m")
    expect(page.locator(".toast-info")).to_contain_text("Confirm this page first")
    assert page_ids(page) == ids
    page.evaluate("""() => {
        const dt = new DataTransfer(); dt.items.add(new File(['hello'], 'notes.txt', {type: 'text/plain'}));
        document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, cancelable: true}));
    }""")
    expect(page.locator(".toast-error")).to_contain_text("Drop an image file")
    assert page_ids(page) == ids and page.js_errors == []


def journals(server: ServerProcess) -> dict[str, list[dict]]:
    """Every concept's journal in the server's home, by the concept its first event names."""
    out: dict[str, list[dict]] = {}
    for path in server.home.rglob("*.jsonl"):
        events = [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
        if events and events[0]["type"] == "session_started":
            out[journal_concept(path)] = events
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


def label_two_pages(server: ServerProcess, concept: str) -> None:
    for _ in range(2):
        batch = server.get(f"/api/next_batch?batch_size=24&concept={concept}")[1]
        labels = [{"id": it["id"], "label": int(it["id"] % 3 == 0)} for it in batch["items"]]
        status, body = server.post(f"/api/submit_labels?batch_id={batch['batch_id']}&concept={concept}", labels)
        assert status == 200, body


def test_each_tab_writes_to_its_own_concept(server, context):  # noqa: F811
    """While another tab makes "positive" the server's current concept, "more like this" (the M key and a
    dropped image), the review page and gallery corrections in a "glasses" tab write to the glasses journal
    only, and the other way round. The journals are read from disk."""
    assert server.post("/api/concepts", {"name": "glasses"})[0] == 201  # and it is current
    for concept in ("positive", "glasses"):
        label_two_pages(server, concept)  # both have a review page
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
