"""Recordings in the page, in headless Chromium against a real `fastlabel serve --audio` with BirdNET:
spectrogram cards, `p` plays the focused window, three pages labeled, Export model; then the model
classifies long soundscapes per window, and the session's own windows as the session scored them.

Needs the shared spoken-digit data (../shared/data/fsdd) and the audio extra; skips without them.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from live_server import REPO_ROOT, ServerProcess

pytestmark = pytest.mark.browser

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("ai_edge_litert")
CHROMIUM = Path("/usr/bin/chromium")
FSDD = REPO_ROOT.parent / "shared" / "data" / "fsdd"
CLIPS = 150
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
OUT_DIR = REPO_ROOT / "test-output"

if not CHROMIUM.exists():
    pytest.skip(f"system Chromium not found at {CHROMIUM}", allow_module_level=True)
if not (FSDD / "recordings").is_dir():
    pytest.skip(f"spoken-digit data not found at {FSDD}", allow_module_level=True)
try:
    from fastlabel.embeddings.birdnet import model_folder
    from playwright.sync_api import expect, sync_playwright

    model_folder()
except Exception as exc:  # noqa: BLE001 - BirdNET's model or playwright missing: nothing to run
    pytest.skip(f"BirdNET or playwright unavailable: {exc}", allow_module_level=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """150 clips (every 20th of the 3,000, so every digit and speaker) served with BirdNET."""
    root = tmp_path_factory.mktemp("fsdd-served")
    rec = root / "digits"
    rec.mkdir()
    (root / "home").mkdir()
    for path in sorted((FSDD / "recordings").glob("*.wav"))[::3000 // CLIPS]:
        shutil.copy(path, rec / path.name)
    srv = ServerProcess(root / "home", args=["--audio", str(rec), "--encoder", "birdnet"], ready_timeout=600)
    try:
        srv.state = srv.start()
        yield srv, root, rec
    finally:
        srv.stop()


def classify(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fastlabel", "classify", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=900)


def test_label_by_ear_export_and_classify_soundscapes(served):
    srv, root, rec = served
    assert srv.state["data"]["media"] == "audio" and srv.state["data"]["n_items"] == CLIPS
    assert srv.state["encoder"]["id"].startswith("birdnet:")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(srv.base + "/")
        page.wait_for_selector("#grid .card")
        page.select_option("#batch-size", "24")
        expect(page.locator("#grid .card")).to_have_count(24)
        expect(page.locator("#listen-hover-box")).to_be_visible()
        expect(page.locator("#data-name")).to_contain_text("windows of 3.0 s")

        # cards are spectrograms, with their file and times on hover
        cards = page.eval_on_selector_all("#grid .card", """cs => cs.map(c => ({media: c.dataset.media,
            title: c.title, src: c.querySelector('img').src.slice(0, 22)}))""")
        assert {c["media"] for c in cards} == {"audio"} and {c["src"] for c in cards} == {"data:image/png;base64,"}
        assert all(".wav \u00b7 0.0 s \u2013 " in c["title"] for c in cards)

        # p plays the focused window: the one audio element's clock runs, the card shows its progress
        page.keyboard.press("ArrowRight")  # focus the first card
        page.keyboard.press("p")
        page.wait_for_function("document.getElementById('player').currentTime > 0.3", timeout=15_000)
        assert page.locator("#grid .card.is-playing .card-progress").count() == 1
        src = page.eval_on_selector("#player", "a => a.src")
        assert "/api/audio/" in src
        OUT_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(OUT_DIR / "audio-cards.png"))
        page.keyboard.press("Shift+P")  # the window with context: the same card, another sound
        page.wait_for_function("document.getElementById('player').src.includes('context=1')")
        page.keyboard.press("p")  # another sound: the window alone again
        page.keyboard.press("p")  # the same again: stop
        page.wait_for_function("document.getElementById('player').paused")
        assert page.locator(".card.is-playing").count() == 0

        # hold z: the closer look (the clip alone here: a clip is one window, with no neighbours) plays the context
        page.keyboard.down("z")
        expect(page.locator("#closer")).to_be_visible()
        page.wait_for_function("(() => { const i = document.getElementById('closer-img'); "
                               "return i.complete && i.src.includes('/api/image/') && i.naturalWidth > 0; })()")
        page.wait_for_function("document.getElementById('player').src.includes('context=1')")
        page.screenshot(path=str(OUT_DIR / "audio-closer.png"))
        page.keyboard.up("z")
        expect(page.locator("#closer")).to_be_hidden()

        # three pages labeled: a few positives flipped on each, Enter confirms
        for page_no in range(3):
            before = page.eval_on_selector_all("#grid .card", "cs => cs.map(c => c.dataset.id).join()")
            for key in ("1", "2", "3", "4")[: 2 + page_no]:
                page.keyboard.press(key)
            page.keyboard.press("Enter")
            page.wait_for_function("ids => [...document.querySelectorAll('#grid .card')].map(c => c.dataset.id).join() "
                                   "!== ids", arg=before, timeout=60_000)
        expect(page.locator("#export-model")).to_be_visible()
        with page.expect_download(timeout=60_000) as download:
            page.click("#export-model")
        model = root / "digits.safetensors"
        download.value.save_as(model)
        assert not errors, errors
        browser.close()

    # the session's own windows: classify gives the session's probabilities
    _, body = srv.get("/api/export/predictions")
    session = {(p["file"], p["start_s"]): p["prob_pos"] for p in body["items"]}
    own = root / "own.csv"
    done = classify(str(model), "--audio", str(rec), "--out", str(own), "--home", str(root / "home"))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(own.open()))
    assert len(rows) == CLIPS == len(session)
    assert max(abs(float(r["prob_pos"]) - session[(r["file"], float(r["start_s"]))]) for r in rows) <= 1e-4

    # long soundscapes (WAV and FLAC, 16 to 44.1 kHz, some stereo): a row per 3 s window
    scapes = FSDD / "soundscapes"
    out = root / "scapes.jsonl"
    done = classify(str(model), "--audio", str(scapes), "--out", str(out), "--home", str(root / "home"))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    expected = sum(1 + math.ceil(max(0.0, soundfile.info(str(f)).duration - 3.0) / 3.0)
                   for f in scapes.iterdir() if f.suffix in (".wav", ".flac"))
    assert len(lines) == expected
