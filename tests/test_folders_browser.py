"""The page on a messy folder in headless Chromium: the skipped-files note with the full list,
a panorama letterboxed whole on its card, and file names on hover. Screenshots go to test-output/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
OUT_DIR = Path(__file__).absolute().parent.parent / "test-output"
if not CHROMIUM.exists():
    pytest.skip(f"system Chromium not found at {CHROMIUM}", allow_module_level=True)
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    pytest.skip("playwright (python) is not installed", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).parent))
from live_server import REPO_ROOT, free_port, wait_until_ready  # noqa: E402
from messy_folder import make_messy_folder  # noqa: E402

import subprocess  # noqa: E402


@pytest.fixture(scope="module")
def folder_server(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("folder-browser")
    make_messy_folder(work / "photos")
    port = free_port()
    cmd = [sys.executable, "-m", "fastlabel", "serve", "--images", str(work / "photos"), "--encoder", "pixels",
           "--home", str(work / "home"), "--port", str(port)]
    with open(work / "server.log", "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
    try:
        base = f"http://127.0.0.1:{port}"
        yield base, wait_until_ready(base, proc=proc)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_skipped_note_and_letterboxed_panorama(folder_server) -> None:
    base, state = folder_server
    skipped = {s["path"] for s in state["skipped"]}
    assert {"neg/truncated.jpg", "empty.png", "notes.jpg", "dangling.png", "pos/link_to_circle.png"} <= skipped
    OUT_DIR.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 768}, device_scale_factor=2)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(base + "/")
        page.wait_for_selector("#grid .card", timeout=30_000)

        note = page.locator("#folder-note")
        expect(note).to_be_visible()
        expect(note.locator("summary").first).to_contain_text(f"{len(skipped)} files skipped")
        note.locator("summary").first.click()
        listed = note.locator("li .skipped-path").all_text_contents()
        assert set(listed) == skipped  # the whole list, not three and "more"
        expect(note).to_contain_text("truncated")

        # a first page of 48 holds the whole pool of 25 images, the panorama among them
        page.wait_for_selector("#grid .card[title='pos/panorama.png']", timeout=30_000)
        card = page.locator("#grid .card[title='pos/panorama.png']")
        card.scroll_into_view_if_needed()
        facts = card.evaluate("""c => { const img = c.querySelector('img');
            const r = img.getBoundingClientRect();
            return {natural: [img.naturalWidth, img.naturalHeight], box: [r.width, r.height],
                    fit: getComputedStyle(img).objectFit, rendering: getComputedStyle(img).imageRendering}; }""")
        assert facts["natural"] == [192, 38] and facts["fit"] == "contain" and facts["rendering"] == "auto"
        card.hover()
        page.screenshot(path=str(OUT_DIR / "folder-note-and-panorama.png"))
        card.screenshot(path=str(OUT_DIR / "folder-panorama-card.png"))
        browser.close()
    assert errors == []
