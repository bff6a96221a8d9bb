"""Two labelers in two browsers on one concept, and an admin in a third: disjoint pages, each sees the
other's retrain in the panel, an overlap card labeled differently lands in the admin's disagreement
queue, and resolving it retrains the head.

Uses the system Chromium (/usr/bin/chromium) through Playwright; never a downloaded browser.
"""

from __future__ import annotations

import orjson
import pytest
from live_server import ServerProcess, call

from fastlabel.users import UserStore

from test_browser import CHROMIUM, VIEWPORT, browser, screenshot  # noqa: F401 (browser: a fixture)

if not CHROMIUM.exists():
    pytest.skip(f"system Chromium not found at {CHROMIUM}", allow_module_level=True)
try:
    from playwright.sync_api import Page, expect
except ImportError:
    pytest.skip("playwright (python) is not installed", allow_module_level=True)

pytestmark = pytest.mark.browser
CONCEPT = "team-smiling"


@pytest.fixture(scope="module")
def team(new_home):
    """A server started alone, then given users (a running server notices): an admin and two labelers."""
    home = new_home("team-browser")
    srv = ServerProcess(home)
    srv.start()
    store = UserStore(home)
    tokens = {"boss": store.add("boss", admin=True), "ann": store.add("ann"), "bob": store.add("bob")}
    status, _ = call("POST", f"{srv.base}/api/concepts", {"name": CONCEPT}, token=tokens["boss"])
    assert status == 201
    try:
        yield srv, tokens
    finally:
        srv.stop()


def sign_in(browser, srv: ServerProcess, token: str) -> Page:
    """A browser context of its own (its own cookie jar), signed in through the sign-in page."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors  # type: ignore[attr-defined]
    page.goto(srv.base + "/")
    expect(page).to_have_url(srv.base + "/signin")
    page.fill("#token", token)
    page.click("#signin-button")
    page.wait_for_selector("#grid .card", timeout=30_000)
    expect(page.locator("#confirm")).to_be_enabled()
    expect(page.locator("#conn")).to_have_attribute("data-status", "open", timeout=10_000)
    return page


def card_ids(page: Page) -> list[int]:
    return page.eval_on_selector_all("#grid .card", "cards => cards.map(c => Number(c.dataset.id))")


def confirm(page: Page) -> None:
    before = card_ids(page)
    page.click("#confirm")
    page.wait_for_function("ids => { const now = [...document.querySelectorAll('#grid .card')]"
                           ".map(c => Number(c.dataset.id)); return now.length && now.join() !== ids.join(); }",
                           arg=before, timeout=30_000)


def events(srv: ServerProcess, token: str) -> list[dict]:
    status, raw = call("GET", f"{srv.base}/api/export/events?concept={CONCEPT}", token=token)
    assert status == 200
    return [orjson.loads(line) for line in raw.splitlines()]


def test_two_labelers_and_an_admin_label_together(team, browser):
    srv, tokens = team
    ann, bob = sign_in(browser, srv, tokens["ann"]), sign_in(browser, srv, tokens["bob"])
    assert not set(card_ids(ann)) & set(card_ids(bob))  # each one's cards are leased to them
    expect(ann.locator("#team-section")).to_be_visible()
    expect(ann.locator("#signed-in-name")).to_have_text("Signed in as ann (labeler)")
    expect(ann.locator("nav.exports")).to_be_hidden()  # downloads are an admin's

    confirm(ann)  # ann's page retrains the head: bob's panel hears of it
    expect(bob.locator("#team-last")).to_have_attribute("data-by", "ann", timeout=15_000)
    expect(bob.locator("#team-last")).to_contain_text("after ann's page")
    confirm(bob)
    expect(ann.locator("#team-last")).to_have_attribute("data-by", "bob", timeout=15_000)
    expect(ann.locator("#team-active")).to_have_text("2 labelers active", timeout=15_000)
    screenshot(ann, "team-ann-panel.png")

    # bob's page, served after ann's labels, holds overlap cards she labeled: he labels one the other way
    log = events(srv, tokens["boss"])
    page_now = [e for e in log if e["type"] == "batch_served" and e["labeler"] == "bob"][-1]
    assert page_now["overlap"] and set(page_now["ids"]) == set(card_ids(bob))
    ann_said = {i: y for e in log if e["type"] == "labels_submitted" and e["labeler"] == "ann" for i, y in e["labels"]}
    assert set(page_now["overlap"]) <= set(ann_said)
    disputed = page_now["overlap"][0]
    card = bob.locator(f'#grid .card[data-id="{disputed}"]')
    shown = 1 if "is-positive" in (card.get_attribute("class") or "") else 0
    if shown == ann_said[disputed]:
        card.click()
    confirm(bob)

    boss = sign_in(browser, srv, tokens["boss"])
    expect(boss.locator("nav.exports")).to_be_visible()
    queued = boss.locator(f'#disagree-list .disagree[data-id="{disputed}"]')
    expect(queued).to_be_visible(timeout=15_000)
    expect(queued).to_contain_text("ann:")
    expect(queued).to_contain_text("bob:")
    screenshot(boss, "team-admin-queue.png")
    retrains = sum(e["type"] == "model_trained" for e in events(srv, tokens["boss"]))
    queued.locator('button[data-resolve="1"]').click()
    expect(queued).to_have_count(0, timeout=15_000)
    after = events(srv, tokens["boss"])
    resolved = [e for e in after if e["type"] == "label_resolved"]
    assert resolved and resolved[-1]["labels"] == [[disputed, 1]] and resolved[-1]["labeler"] == "boss"
    assert sum(e["type"] == "model_trained" for e in after) == retrains + 1  # the resolution retrained the head
    assert after[-1]["type"] == "model_trained" and after[-1]["seq"] > resolved[-1]["seq"]

    # the overlap share is the admin's to set, per concept; a labeler sees it
    expect(ann.locator("#overlap-per-page")).to_be_disabled()
    overlap = boss.locator("#overlap-per-page")
    expect(overlap).to_have_value("2")
    overlap.fill("4")
    overlap.dispatch_event("change")
    expect(boss.locator(".toast").last).to_contain_text("4 overlap cards", timeout=15_000)
    screenshot(boss, "team-overlap.png")
    assert [e["per_page"] for e in events(srv, tokens["boss"]) if e["type"] == "overlap_set"] == [4]
    for page in (ann, bob, boss):
        assert page.js_errors == []  # type: ignore[attr-defined]
