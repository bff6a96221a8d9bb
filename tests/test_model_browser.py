"""In the page: the concept in the header, two pages labeled, Export model downloads a file that
Classifier.load reads, and the version list downloads an earlier model."""

from __future__ import annotations

from pathlib import Path

import pytest

from test_browser import (  # skips without Chromium
    CHROMIUM, LAUNCH_ARGS, VIEWPORT, no_dialogs, open_page, screenshot)

from fastlabel import Classifier
from live_server import ServerProcess

pytestmark = pytest.mark.browser
from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    srv = ServerProcess(tmp_path_factory.mktemp("model-home"), args=["--encoder", "pixels", "--concept", "Smiling"])
    try:
        srv.state = srv.start()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        yield open_page(context, server)
        browser.close()


def confirm_page(page) -> None:
    with page.expect_response(lambda r: "/api/submit_labels" in r.url) as resp, \
            page.expect_response(lambda r: "/api/next_batch" in r.url):
        page.click("#confirm")
    assert resp.value.ok, resp.value.text()


def test_export_model_from_the_page(page, tmp_path: Path) -> None:
    dialogs = no_dialogs(page)
    expect(page.locator("#concept")).to_have_text("\u201cSmiling\u201d")

    # Before any retrain there is nothing to export: a notice, no download.
    page.click("#export-model")
    expect(page.locator(".toast-info")).to_contain_text("No model yet")

    for k in range(4):  # both classes on the first page (no model yet: every card starts negative)
        page.locator("#grid .card").nth(k).click()
    confirm_page(page)
    confirm_page(page)
    rows = page.locator("#model-versions tr")
    expect(rows).to_have_count(2, timeout=15_000)
    expect(rows.nth(0).locator("td").nth(0)).to_have_text("96")
    expect(rows.nth(1).locator("td").nth(0)).to_have_text("48")
    link = rows.nth(1).locator("a")
    box, panel = link.bounding_box(), page.locator(".panel").bounding_box()
    assert box["x"] + box["width"] <= panel["x"] + panel["width"], "the export link is cut off"
    screenshot(page, "browser-model-versions.png")

    with page.expect_download() as download:
        page.click("#export-model")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.startswith("Smiling-v") and path.suffix == ".safetensors"
    clf = Classifier.load(path)
    assert clf.concept == "Smiling"
    assert clf.metadata["training"]["labels"] == 96

    earlier_seq = int(rows.nth(1).get_attribute("data-seq"))
    with page.expect_download() as download:
        rows.nth(1).locator("a").click()
    old = tmp_path / "earlier.safetensors"
    download.value.save_as(old)
    earlier = Classifier.load(old)
    assert earlier.metadata["session"]["seq"] == earlier_seq
    assert earlier.metadata["training"]["labels"] == 48
    assert not dialogs and not page.js_errors, page.js_errors
