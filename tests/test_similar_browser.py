""""More like this" in the page (headless Chromium, real server, tiny CLIP): the card button, the
M key, a dropped image, and a worked page that is never thrown away."""

from __future__ import annotations

import pytest

from test_browser import CHROMIUM, browser, context, drop_image, open_page, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip(f"system Chromium not found at {CHROMIUM}", allow_module_level=True)
from playwright.sync_api import expect  # noqa: E402


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
