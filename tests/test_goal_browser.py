"""The goal control in headless Chromium against a real `fastlabel serve` (pixels encoder, demo faces):
switching to "find every positive" changes the panel's headline and the page's strategy, and on a small
planted rare concept the stop signal appears once every positive is found. Screenshots go to test-output/."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from fastlabel.config import Config
from fastlabel.learner.index import unit_rows
from fastlabel.workspace import open_pool
from live_server import ServerProcess, call

pytestmark = pytest.mark.browser

from test_browser import CHROMIUM, LAUNCH_ARGS, OUT_DIR, VIEWPORT, open_page  # noqa: E402  (skips without Chromium)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


def planted(home, size: int = 12) -> set[int]:
    """The rare concept (2% of the 600 faces): one face and its nearest neighbours in the server's own
    embeddings (the pixels encoder, read from the home's cache)."""
    pool = open_pool(Config(home=home, encoder="pixels"))
    x = unit_rows(np.asarray(pool.embeddings, np.float32))
    return set(np.argsort(-(x @ x[7]))[:size].tolist())


@pytest.fixture(scope="module")
def server(new_home, tmp_path_factory):
    home = new_home("browser-goal")
    srv = ServerProcess(home, tmp_path_factory.mktemp("journals") / "faces.jsonl")
    srv.state = srv.start()
    srv.home = home
    yield srv
    srv.kill9()


def test_switch_goal_headline_and_find_stop_signal(server: ServerProcess):
    truth = planted(server.home)
    assert 3 <= len(truth) <= 30, len(truth)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = open_page(browser.new_context(viewport=VIEWPORT), server, timeout_ms=60_000)
        headline = page.locator("#goal-headline")
        expect(page.locator("#goal")).to_have_value("train")
        expect(headline).to_contain_text("Training a classifier")

        page.select_option("#goal", "find")
        expect(headline).to_contain_text("positives found")
        expect(page.locator("#strategy")).to_have_value("active_search")
        expect(page.locator("#stop")).not_to_have_class("stop is-ready")

        # label the pages the find goal serves, answering from the planted concept, until every
        # positive is found and the stop signal is up
        base = server.base
        for _ in range(14):
            status, batch = call("GET", f"{base}/api/next_batch?batch_size=48")
            assert status == 200, batch
            if not batch["items"]:
                break
            ids = [it["id"] for it in batch["items"]]
            labels = [{"id": i, "label": int(i in truth)} for i in ids]
            status, body = call("POST", f"{base}/api/submit_labels?batch_id={batch['batch_id']}", labels)
            assert status == 200, body
            status, state = call("GET", f"{base}/api/state")
            if state["stop"]["ready"] and state["counts"]["positive"] == len(truth):
                break
        assert state["goal"] == "find" and state["counts"]["positive"] == len(truth)
        assert state["stop"]["ready"], state["stop"]

        stop = page.locator("#stop")
        expect(stop).to_have_class("stop is-ready", timeout=20_000)  # pushed by the last retrain
        expect(stop).to_contain_text("ready to stop")
        expect(headline).to_contain_text(f"{len(truth)} positives found / about")
        OUT_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT_DIR / "goal-find-stop.png"))

        page.select_option("#goal", "train")
        expect(headline).to_contain_text("Training a classifier")
        expect(page.locator("#strategy")).to_have_value("hunt_refine")
        assert not page.js_errors, page.js_errors
        browser.close()

    status, raw = call("GET", f"{server.base}/api/export/events")
    goals = [e["goal"] for e in map(orjson.loads, raw.splitlines()) if e["type"] == "goal_set"]
    assert goals == ["find", "train"]  # both switches are events in the journal
