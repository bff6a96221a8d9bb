"""Concepts, the review page, the labeled gallery and the closer look in headless Chromium against a
real `fastlabel serve` (pixels encoder, demo faces). Screenshots go to test-output/ (git-ignored)."""

from __future__ import annotations

import time
from urllib.parse import urlparse

import orjson
import pytest

from live_server import ServerProcess, call

pytestmark = pytest.mark.browser

from test_browser import CHROMIUM, LAUNCH_ARGS, OUT_DIR, VIEWPORT, open_page  # noqa: E402  (skips without Chromium)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def server(new_home, tmp_path_factory):
    home = new_home("browser-concepts")
    srv = ServerProcess(home, tmp_path_factory.mktemp("journals") / "faces.jsonl")
    srv.start()
    yield srv
    srv.kill9()


@pytest.fixture(scope="module")
def page(server):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = open_page(browser.new_context(viewport=VIEWPORT), server, timeout_ms=60_000)
        yield page
        assert not page.js_errors, page.js_errors
        browser.close()


def shot(page: Page, name: str) -> None:
    OUT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(OUT_DIR / name))


def set_page_size(page: Page, n: int) -> None:
    page.select_option("#batch-size", str(n))
    page.wait_for_selector(f"#grid .card:nth-child({n})")
    expect(page.locator("#confirm")).to_be_enabled()


def new_concept(page: Page, name: str) -> None:
    page.click("#new-concept")
    page.fill("#concept-name", name)
    with page.expect_response(lambda r: urlparse(r.url).path == "/api/concepts" and r.request.method == "POST"):
        page.click("#concept-form button[type=submit]")
    expect(page.locator("#concept-picker")).to_have_value(name)
    expect(page.locator("#confirm")).to_be_enabled()


def label_page(page: Page, flips: int = 3) -> None:
    """Flip the first cards and confirm; waits for the next page."""
    for k in range(flips):
        page.click(f"#grid .card:nth-child({k + 1})")
    with page.expect_response(lambda r: "/api/submit_labels" in r.url):
        page.keyboard.press("Enter")
    expect(page.locator("#confirm")).to_be_enabled()


def counts(server: ServerProcess, concept: str) -> dict:
    return call("GET", f"{server.base}/api/state?concept={concept}")[1]["counts"]


def labels_of(server: ServerProcess, concept: str) -> dict[int, int]:
    raw = call("GET", f"{server.base}/api/export/labels?concept={concept}")[1]
    return {r["id"]: r["label"] for r in map(orjson.loads, raw.splitlines())}


def test_two_concepts_switch_and_reload(server: ServerProcess, page: Page) -> None:
    height = page.eval_on_selector(".toolbar", "t => t.offsetHeight")
    assert height < 60, height  # one toolbar row at 1366 px (52 px)
    set_page_size(page, 24)
    new_concept(page, "smiling")
    label_page(page)
    expect(page.locator("#stat-labeled")).to_have_text("24")
    new_concept(page, "eyeglasses")
    expect(page.locator("#stat-labeled")).to_have_text("0")  # a new concept starts empty
    label_page(page, flips=5)
    label_page(page, flips=1)
    expect(page.locator("#stat-labeled")).to_have_text("48")
    assert counts(server, "smiling")["labeled"] == 24 and counts(server, "eyeglasses")["labeled"] == 48
    assert counts(server, "positive")["labeled"] == 0

    times = []
    for name, n in (("smiling", "24"), ("eyeglasses", "48"), ("smiling", "24")):
        start = time.perf_counter()
        page.select_option("#concept-picker", name)
        expect(page.locator("#stat-labeled")).to_have_text(n)
        expect(page.locator("#confirm")).to_be_enabled()
        times.append(time.perf_counter() - start)
    print("switch seconds (browser, with the next page):", [round(t, 2) for t in times])
    shot(page, "concepts-switched.png")

    page.reload()
    page.wait_for_selector("#grid .card", timeout=60_000)
    expect(page.locator("#concept-picker")).to_have_value("smiling")
    expect(page.locator("#stat-labeled")).to_have_text("24")
    options = page.eval_on_selector_all("#concept-picker option", "os => os.map(o => o.value)")
    assert options == ["positive", "eyeglasses", "smiling"]
    page.select_option("#concept-picker", "eyeglasses")
    expect(page.locator("#stat-labeled")).to_have_text("48")


def test_review_shows_human_labels_and_records_a_flip(server: ServerProcess, page: Page) -> None:
    page.select_option("#concept-picker", "eyeglasses")
    expect(page.locator("#confirm")).to_be_enabled()
    set_page_size(page, 24)
    given = labels_of(server, "eyeglasses")
    page.click("[data-view=review]")
    page.wait_for_selector("#grid .card .card-human")
    cards = page.eval_on_selector_all(
        "#grid .card", "cs => cs.map(c => [Number(c.dataset.id), c.querySelector('.card-human').textContent])")
    assert len(cards) == 24
    for item, text in cards:
        assert text.startswith(f"you: {'Pos' if given[item] else 'Neg'}")
    shot(page, "review-page.png")
    first = cards[0][0]
    page.click("#grid .card:nth-child(1)")
    with page.expect_response(lambda r: "/api/review" in r.url):  # the next review page
        with page.expect_response(lambda r: "/api/correct" in r.url):
            page.keyboard.press("Enter")
    expect(page.locator("#confirm")).to_be_enabled()
    assert labels_of(server, "eyeglasses")[first] == 1 - given[first]
    state = call("GET", f"{server.base}/api/state?concept=eyeglasses")[1]
    assert state["effort"]["corrections"]["review"] == 1
    assert state["counts"]["labeled"] == 48  # a correction changes a label, it adds none
    second = [c[0] for c in page.eval_on_selector_all("#grid .card", "cs => cs.map(c => [Number(c.dataset.id)])")]
    assert first not in second  # the next review page shows other cards

    with page.expect_response(lambda r: "/api/labeled" in r.url):
        page.click("[data-view=gallery]")
    with page.expect_response(lambda r: "filter=corrected" in r.url):
        page.select_option("#gallery-filter", "corrected")
    expect(page.locator("#confirm")).to_be_enabled()
    ids = page.eval_on_selector_all("#grid .card", "cs => cs.map(c => Number(c.dataset.id))")
    assert ids == [first]
    expect(page.locator("#grid .card-human")).to_contain_text("\u270e")
    shot(page, "gallery-corrected.png")
    page.select_option("#gallery-filter", "all")
    page.wait_for_selector("#grid .card:nth-child(24)")
    page.click("[data-view=label]")
    expect(page.locator("#grid .card-human")).to_have_count(0)


def test_closer_look_from_the_keyboard(server: ServerProcess, page: Page) -> None:
    expect(page.locator("#confirm")).to_be_enabled()
    page.keyboard.press("ArrowRight")  # focus a card
    page.keyboard.press("ArrowRight")
    focused = page.eval_on_selector("#grid .card.is-focused", "c => Number(c.dataset.id)")
    page.keyboard.down("z")
    expect(page.locator("#closer")).to_be_visible()
    page.wait_for_function("document.getElementById('closer-img').src.includes('/api/image/')")
    src = page.eval_on_selector("#closer-img", "i => i.src")
    assert f"/api/image/{focused}?" in src and "concept=" in src
    size = page.eval_on_selector("#closer-img", "i => [i.naturalWidth, i.getBoundingClientRect().width]")
    assert size[1] >= 4 * size[0]  # the 48 px tile, scaled up
    shot(page, "closer-look.png")
    page.keyboard.press("ArrowRight")  # keys keep working while it is open
    page.wait_for_function(f"!document.getElementById('closer-img').src.includes('/api/image/{focused}?')")
    page.keyboard.up("z")
    expect(page.locator("#closer")).to_be_hidden()
    before = page.eval_on_selector("#grid .card.is-focused", "c => c.classList.contains('is-positive')")
    page.keyboard.press("x")  # still labeling: x flips the focused card
    after = page.eval_on_selector("#grid .card.is-focused", "c => c.classList.contains('is-positive')")
    assert after != before


def test_effort_table_fits_the_panel(server: ServerProcess, page: Page) -> None:
    expect(page.locator("#confirm")).to_be_enabled()
    before = page.eval_on_selector("#concept-picker", "p => p.value")
    page.click("#grid .card:nth-child(1)")
    page.click("#new-concept")
    page.fill("#concept-name", "strategies")
    page.click("#concept-form button[type=submit]")
    expect(page.locator(".toast").last).to_contain_text("Confirm")  # refused: the page has a flip on it
    expect(page.locator("#concept-picker")).to_have_value(before)
    page.click("#concept-cancel")
    label_page(page, flips=0)
    new_concept(page, "strategies")
    for strategy in ("random", "kmeans", "borderline", "hybrid"):
        page.select_option("#strategy", strategy)
        expect(page.locator("#confirm")).to_be_enabled()
        page.wait_for_timeout(300)
        label_page(page, flips=2)
    by_strategy = call("GET", f"{server.base}/api/state?concept=strategies")[1]["effort"]["by_strategy"]
    assert len(by_strategy) == 4, by_strategy
    page.wait_for_selector("#effort table thead th:nth-child(5)", state="attached")
    page.eval_on_selector("#effort-section", "e => e.scrollIntoView()")
    fit = page.eval_on_selector_all(
        "#effort .figs-wrap",
        """ws => ws.map(w => ({scroll: w.scrollWidth, client: w.clientWidth, overflow: getComputedStyle(w).overflowX,
                              right: w.getBoundingClientRect().right,
                              panel: document.querySelector('.panel').getBoundingClientRect().right}))""")
    for wrap in fit:  # every table fits the panel, or scrolls inside it
        assert wrap["right"] <= wrap["panel"] and (wrap["scroll"] <= wrap["client"] + 1 or wrap["overflow"] == "auto")
    panel = page.eval_on_selector(".panel", "p => [p.scrollWidth, p.clientWidth]")
    wide = page.eval_on_selector(".panel", """p => [...p.querySelectorAll('*')].filter(e =>
        e.getBoundingClientRect().right > p.getBoundingClientRect().right + 1 && e.closest('.figs-wrap') === null)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + e.textContent.slice(0, 30))""")
    assert panel[0] <= panel[1], wide  # nothing sticks out of the panel
    page.eval_on_selector_all("#effort .figs-wrap", "ws => ws.forEach(w => { w.scrollLeft = w.scrollWidth; })")
    last = page.eval_on_selector_all(
        "#effort table", "ts => ts.map(t => { const th = t.tHead.rows[0].lastElementChild.getBoundingClientRect();"
        " const w = t.parentElement.getBoundingClientRect(); return th.right <= w.right + 1 && th.left >= w.left; })")
    assert all(last)  # scrolled, the last column shows whole
    shot(page, "effort-table.png")
