"""The page in headless Chromium against a real `fastlabel serve`: the labeling loop, colours,
keyboard, undo, pushed retrains in a second tab, loading, and error toasts.

Uses the system Chromium (/usr/bin/chromium) through Playwright; never a downloaded browser.
Screenshots go to test-output/ (git-ignored).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from live_server import ServerProcess, call

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).absolute().parent.parent
OUT_DIR = REPO_ROOT / "test-output"
TINY_CLIP = Path(__file__).parent / "fixtures" / "tiny-clip.json"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 768}
READY_TIMEOUT_S = 120

# A tiny open_clip model with random weights: the real CLIP code path, with a text side for
# the zero-shot query step, and nothing to download.
TEXT_ENCODER = ["--encoder", "clip", "--clip-model", str(TINY_CLIP), "--clip-pretrained", "none"]

if not CHROMIUM.exists():
    pytest.skip(f"system Chromium not found at {CHROMIUM}", allow_module_level=True)
try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError:
    pytest.skip("playwright (python) is not installed", allow_module_level=True)


# ---------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def server(new_home):
    """A real server on the demo data, with a text encoder."""
    srv = ServerProcess(new_home("fastlabel-home"), args=TEXT_ENCODER, ready_timeout=READY_TIMEOUT_S)
    try:
        srv.state = srv.start()
        assert srv.state["encoder"]["has_text"], srv.state["encoder"]
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield b
        b.close()


@pytest.fixture()
def context(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    yield ctx
    ctx.close()


def screenshot(page: Page, name: str) -> Path:
    OUT_DIR.mkdir(exist_ok=True)
    path = OUT_DIR / name
    page.screenshot(path=str(path))
    return path


def no_dialogs(page: Page) -> list[str]:
    """Errors must be toasts: record any alert/confirm so the test can assert there were none."""
    seen: list[str] = []

    def on_dialog(d):
        seen.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    return seen


def open_page(context, server: ServerProcess, timeout_ms: int = 30_000, path: str = "/") -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors  # type: ignore[attr-defined]
    page.goto(server.base + path)
    page.wait_for_selector("#grid .card", timeout=timeout_ms)
    expect(page.locator("#confirm")).to_be_enabled()
    return page


def drop_image(page: Page) -> None:
    """Drop a 64 px PNG (a flat skin tone) onto the page, as a file dragged in from the desktop."""
    page.evaluate("""async () => {
        const canvas = document.createElement('canvas'); canvas.width = canvas.height = 64;
        const g = canvas.getContext('2d'); g.fillStyle = '#c08060'; g.fillRect(0, 0, 64, 64);
        const blob = await new Promise(r => canvas.toBlob(r, 'image/png'));
        const dt = new DataTransfer(); dt.items.add(new File([blob], 'face.png', {type: 'image/png'}));
        document.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, cancelable: true}));
        document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, cancelable: true}));
    }""")


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(float(v)) for v in re.findall(r"[\d.]+", css)[:3])
    return r, g, b


def card_facts(page: Page) -> list[dict]:
    return page.eval_on_selector_all(
        "#grid .card",
        """cards => cards.map(c => {
            const s = getComputedStyle(c);
            return {id: Number(c.dataset.id), cls: c.className,
                    overlay: c.querySelector('.card-overlay').textContent,
                    border: s.borderTopColor, opacity: Number(s.opacity),
                    img: c.querySelector('img').src.slice(0, 22)};
        })""",
    )


def overlays(page: Page) -> dict[int, str]:
    return {c["id"]: c["overlay"] for c in card_facts(page)}


def wait_socket_watching(page: Page) -> None:
    """The tab's socket is open and its watch message has had time to reach the server."""
    expect(page.locator("#conn")).to_have_attribute("data-status", "open", timeout=10_000)
    page.wait_for_timeout(400)


# ---------------------------------------------------------------- tests


def test_label_confirm_train_and_pushed_update(server: ServerProcess, context) -> None:
    page = open_page(context, server)
    dialogs = no_dialogs(page)

    # No model yet: the first page starts every card negative, and says so.
    expect(page.locator("#message")).to_contain_text("No model yet: cards start negative")
    assert {c["cls"] for c in card_facts(page)} == {"card is-negative"}

    # Zero-shot query: CLIP scores every image against the text.
    page.fill("#query", "smiling woman")
    with page.expect_response(lambda r: "/api/set_query" in r.url) as resp:
        page.click("#set-query")
    assert resp.value.ok, resp.value.text()
    assert resp.value.json()["query"] == "smiling woman"
    expect(page.locator(".toast-info")).to_contain_text("smiling woman")

    # The strategy menu is built from /api/state, with titles.
    names = page.eval_on_selector_all("#strategy option", "os => os.map(o => o.value)")
    assert names == [s["name"] for s in server.state["strategies"]]
    assert page.locator("#strategy option[value=verify_positives]").text_content() == next(
        s["title"] for s in server.state["strategies"] if s["name"] == "verify_positives")

    # Verify positives: a fresh page of the model's most confident positives.
    with page.expect_response(lambda r: "/api/next_batch" in r.url and "verify_positives" in r.url) as resp:
        page.select_option("#strategy", "verify_positives")
    batch = resp.value.json()
    assert batch["batch_type"] == "positive" and batch["items"]
    ids = [it["id"] for it in batch["items"]]
    expect(page.locator("#grid .card")).to_have_count(len(ids))
    page.wait_for_function(
        "ids => [...document.querySelectorAll('#grid .card')].map(c => Number(c.dataset.id)).join() === ids.join()",
        arg=ids)

    assert "mode-positive" in page.evaluate("document.body.className")
    # Greenish once the colour transition has run.
    page.wait_for_function("""() => {
        const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).map(Number);
        return g > r + 12 && g > b + 12; }""", timeout=5_000)

    # Each card starts on the model's side; its class, overlay and border agree.
    facts = card_facts(page)
    for card, item in zip(facts, batch["items"]):
        p = item["prob_pos"]
        side, pct = ("Pos", p) if p >= 0.5 else ("Neg", 1 - p)
        shown = math.floor(pct * 100 + 0.5)  # JavaScript's Math.round: halves go up, not to even
        assert card["overlay"] == f"#{item['id']} - {shown}% {side}"
        assert card["img"].startswith("data:image/png;base64")
        cr, cg, cb = rgb(card["border"])
        if card["overlay"].endswith("Pos"):
            assert card["cls"] == "card is-positive"
            assert cg > cr + 40 and cg > cb, f"positive border not green: {card}"
        else:
            assert card["cls"] == "card is-negative"
            assert cr > cg + 40 and cr > cb, f"negative border not red: {card}"
            assert card["opacity"] < 0.7
    screenshot(page, "browser-verify-positives.png")

    # Two clicks flip two cards.
    before = {c["id"]: c["cls"] for c in facts}
    flip = {"card is-positive": "card is-negative", "card is-negative": "card is-positive"}
    page.locator("#grid .card").nth(0).click()
    page.locator("#grid .card").nth(1).click()
    after = {c["id"]: c["cls"] for c in card_facts(page)}
    for cid in ids[:2]:
        assert after[cid].replace(" is-focused", "") == flip[before[cid]]
    for cid in ids[2:]:
        assert after[cid] == before[cid]
    expected_labels = [{"id": c["id"], "label": int("is-positive" in after[c["id"]])} for c in facts]

    # A second tab shows its own page and listens for retrains.
    other = open_page(context, server)
    wait_socket_watching(other)
    wait_socket_watching(page)
    other_before = overlays(other)
    other_classes = {c["id"]: c["cls"] for c in card_facts(other)}

    # Confirm & Train: the submission carries the labels and the effort figures.
    labeled_after = str(call("GET", f"{server.base}/api/state")[1]["counts"]["labeled"] + len(ids))
    page.wait_for_timeout(300)  # so page_ms is clearly above zero
    with page.expect_request(lambda r: "/api/submit_labels" in r.url) as req, \
            page.expect_response(lambda r: "/api/next_batch" in r.url) as nxt:
        page.click("#confirm")
    query = parse_qs(urlparse(req.value.url).query)
    assert int(query["clicks"][0]) == 2
    assert int(query["page_ms"][0]) >= 300
    assert int(query["batch_id"][0]) == batch["batch_id"]
    assert json.loads(req.value.post_data) == expected_labels

    # The next page arrives.
    new_batch = nxt.value.json()
    assert new_batch["batch_id"] != batch["batch_id"]
    new_ids = [it["id"] for it in new_batch["items"]]
    assert new_ids and not set(new_ids) & set(ids)
    page.wait_for_function(
        "ids => [...document.querySelectorAll('#grid .card')].map(c => Number(c.dataset.id)).join() === ids.join()",
        arg=new_ids)
    expect(page.locator("#stat-labeled")).to_have_text(labeled_after, timeout=10_000)
    expect(page.locator("#undo")).to_be_enabled()

    # The pushed retrain changes overlays in the other tab, and only the overlays.
    other.wait_for_function(
        """before => [...document.querySelectorAll('#grid .card')].some(
            c => c.querySelector('.card-overlay').textContent !== before[c.dataset.id])""",
        arg={str(k): v for k, v in other_before.items()}, timeout=20_000)
    assert {c["id"]: c["cls"].replace(" is-updated", "") for c in card_facts(other)} == other_classes
    expect(other.locator("#stat-labeled")).to_have_text(labeled_after, timeout=10_000)
    screenshot(other, "browser-pushed-update.png")

    assert not dialogs
    assert not page.js_errors and not other.js_errors, page.js_errors + other.js_errors


def test_keyboard_undo_and_dense_layout(server: ServerProcess, context) -> None:
    page = open_page(context, server)
    dialogs = no_dialogs(page)
    expect(page.locator(".helpline")).to_contain_text("undo")

    # 48 cards fit a 1366 x 768 screen: no scrolling, all cards in view, crisp pixels.
    assert page.input_value("#batch-size") == "48"
    with page.expect_response(lambda r: "/api/next_batch" in r.url and "random" in r.url) as resp:
        page.select_option("#strategy", "random")
    served = [it["id"] for it in resp.value.json()["items"]]
    page.wait_for_function(
        "ids => [...document.querySelectorAll('#grid .card')].map(c => Number(c.dataset.id)).join() === ids.join()",
        arg=served)
    expect(page.locator("#grid .card")).to_have_count(48)
    assert page.evaluate("document.documentElement.scrollHeight <= innerHeight + 1")
    boxes = page.eval_on_selector_all("#grid .card", "cs => cs.map(c => c.getBoundingClientRect().toJSON())")
    assert all(b["bottom"] <= VIEWPORT["height"] and b["right"] <= VIEWPORT["width"] for b in boxes)
    assert all(90 <= b["width"] <= 112 and b["width"] == b["height"] for b in boxes)
    assert page.eval_on_selector("#grid .card img", "i => getComputedStyle(i).imageRendering") == "pixelated"

    cards = page.locator("#grid .card")
    classes = [c["cls"] for c in card_facts(page)]
    ids = [c["id"] for c in card_facts(page)]

    # Digits toggle cards 1-9; arrows move the focus ring; x toggles the focused card.
    page.keyboard.press("3")
    expect(cards.nth(2)).not_to_have_class(classes[2])
    page.keyboard.press("ArrowRight")
    expect(cards.nth(3)).to_have_class(re.compile(r"\bis-focused\b"))
    page.keyboard.press("ArrowDown")
    cols = page.evaluate("(() => { const cs = [...document.querySelectorAll('#grid .card')];"
                         " return cs.filter(c => c.offsetTop === cs[0].offsetTop).length; })()")
    expect(cards.nth(3 + cols)).to_have_class(re.compile(r"\bis-focused\b"))
    page.keyboard.press("x")
    expect(cards.nth(3 + cols)).to_have_class(re.compile(
        r"is-negative" if "is-positive" in classes[3 + cols] else r"is-positive"))

    # Keys typed into the query box are text, not shortcuts.
    if page.locator("#query").is_enabled():
        page.click("#query")
        page.keyboard.type("x1")
        expect(cards.nth(0)).to_have_class(classes[0])
        page.keyboard.press("Escape")

    # ? shows and hides the help.
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_hidden()

    # Enter confirms; u brings the page back with the labels given.
    with page.expect_request(lambda r: "/api/submit_labels" in r.url) as req, \
            page.expect_response(lambda r: "/api/next_batch" in r.url):
        page.keyboard.press("Enter")
    assert parse_qs(urlparse(req.value.url).query)["clicks"] == ["2"]
    submitted = {e["id"]: e["label"] for e in json.loads(req.value.post_data)}
    expect(page.locator("#undo")).to_be_enabled()
    with page.expect_response(lambda r: "/api/undo" in r.url) as resp:
        page.keyboard.press("u")
    assert resp.value.ok
    page.wait_for_function(
        "ids => [...document.querySelectorAll('#grid .card')].map(c => Number(c.dataset.id)).join() === ids.join()",
        arg=ids)
    for c in card_facts(page):
        assert ("is-positive" in c["cls"]) == bool(submitted[c["id"]]), c
    screenshot(page, "browser-keyboard-undo.png")
    assert not dialogs and not page.js_errors


def test_loading_progress_then_ready_and_error_toast(server: ServerProcess, context) -> None:
    page = context.new_page()
    dialogs = no_dialogs(page)
    js_errors: list[str] = []
    page.on("pageerror", lambda e: js_errors.append(str(e)))

    # While the server embeds, the page shows the progress (here through the polling fallback).
    loading = {"status": "loading", "progress": {"stage": "embedding", "done": 120, "total": 600},
               "error": None, "batch_size": 48, "max_batch_size": 200, "default_strategy": "borderline"}
    page.route("**/api/state", lambda route: route.fulfill(json=loading))
    # ... and an API error shows as a dismissable toast, never an alert.
    page.route("**/api/next_batch*", lambda route: route.fulfill(
        status=500, json={"error": "injected failure for the test"}))
    page.goto(server.base + "/")
    expect(page.locator("#loading")).to_be_visible()
    expect(page.locator("#loading-text")).to_contain_text("120 / 600")
    expect(page.locator("#loading-bar")).to_have_attribute("aria-valuenow", "20")
    screenshot(page, "browser-loading.png")

    page.unroute("**/api/state")
    toast = page.locator(".toast-error")
    expect(toast).to_contain_text("injected failure for the test", timeout=10_000)
    expect(page.locator("#loading")).to_be_hidden()
    toast.locator(".toast-close").click()
    expect(toast).to_have_count(0)

    # Once the server answers again, Confirm fetches a page.
    page.unroute("**/api/next_batch*")
    page.click("#confirm")
    page.wait_for_selector("#grid .card")
    assert not dialogs and not js_errors, js_errors
