"""Recordings in the app: cards that are spectrograms with their file and times, a window's sound as
WAV under the same token, origin and concept rules as every route, and labels that name their window."""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import numpy as np
import orjson
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from fastlabel.config import Config  # noqa: E402
from fastlabel.server.app import create_app  # noqa: E402

TOKEN = "an-audio-token"
RATE = 16_000  # the logmel encoder's rate: windows are served at it


def write_recordings(root: Path) -> Path:
    """a.wav: 7 s at 16 kHz of a tone (3 windows of 3 s), b.flac: 4 s of a stereo chirp at 22.05 kHz (2),
    c.wav: 2 s of noise at 8 kHz (1 padded window), and a text file that is skipped."""
    root.mkdir(parents=True)
    t = np.arange(7 * RATE) / RATE
    soundfile.write(root / "a.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), RATE)
    t = np.arange(4 * 22_050) / 22_050
    chirp = (0.4 * np.sin(2 * np.pi * (300 + 500 * t) * t)).astype(np.float32)
    soundfile.write(root / "b.flac", np.stack([chirp, chirp], axis=1), 22_050)
    soundfile.write(root / "c.wav", np.random.default_rng(0).normal(0, 0.1, 16_000).astype(np.float32), 8_000)
    (root / "notes.txt").write_text("not a recording")
    return root


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("audio-home")
    write_recordings(home / "rec")
    return home


@pytest.fixture(scope="module")
def app(home):
    app = create_app(Config(home=home, audio=home / "rec", encoder="logmel"), background=False)
    app.testing = True
    return app


@pytest.fixture(scope="module")
def token_app(home, app):  # after `app`, so the embeddings are cached
    config = Config(home=home, audio=home / "rec", encoder="logmel", token=TOKEN,
                    session=home / "token-session.jsonl")
    return create_app(config, background=False)


def test_state_says_the_items_are_windows_of_recordings(app):
    state = app.test_client().get("/api/state").get_json()
    assert state["data"]["media"] == "audio"
    assert state["data"]["window_s"] == 3.0 and state["data"]["hop_s"] == 3.0 and state["data"]["sample_rate"] == RATE
    assert state["data"]["n_items"] == 6
    assert [s["path"] for s in state["skipped"]] == ["notes.txt"]


def test_cards_are_spectrograms_with_their_file_and_times(app):
    body = app.test_client().get("/api/next_batch?strategy=random&batch_size=6").get_json()
    items = {item["id"]: item for item in body["items"]}
    assert len(items) == 6
    for item in items.values():
        assert item["media"] == "audio"
        assert base64.b64decode(item["image"])[:8] == b"\x89PNG\r\n\x1a\n"
    spans = sorted((i["name"], i["start_s"], i["end_s"]) for i in items.values())
    assert spans == [("a.wav", 0.0, 3.0), ("a.wav", 3.0, 6.0), ("a.wav", 6.0, 7.0), ("b.flac", 0.0, 3.0),
                     ("b.flac", 3.0, 4.0), ("c.wav", 0.0, 2.0)]


def read_wav(data: bytes) -> tuple[np.ndarray, int, str]:
    info = soundfile.info(io.BytesIO(data))
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    return samples, rate, info.subtype


def window_id(client, name: str, start: float) -> int:
    items = client.get("/api/next_batch?strategy=random&batch_size=6").get_json()["items"]
    return next(i["id"] for i in items if i["name"] == name and i["start_s"] == start)


def test_a_window_plays_as_16_bit_wav_with_context_on_request(app):
    client = app.test_client()
    middle = window_id(client, "a.wav", 3.0)
    res = client.get(f"/api/audio/{middle}")
    assert res.status_code == 200 and res.mimetype == "audio/wav"
    assert res.data[:4] == b"RIFF" and res.data[8:12] == b"WAVE"
    samples, rate, subtype = read_wav(res.data)
    assert rate == RATE and subtype == "PCM_16" and samples.ndim == 1 and len(samples) == 3 * RATE
    assert 0.45 < np.abs(samples).max() < 0.55  # the tone, at its level
    wide, _, _ = read_wav(client.get(f"/api/audio/{middle}?context=1").data)
    assert len(wide) == 7 * RATE  # one window before, and the 1 s left of the file after
    first = window_id(client, "a.wav", 0.0)
    assert len(read_wav(client.get(f"/api/audio/{first}?context=1").data)[0]) == 6 * RATE  # clipped at the start


def test_the_closer_look_of_a_window_is_a_wide_spectrogram(app):
    client = app.test_client()
    middle = window_id(client, "a.wav", 3.0)
    res = client.get(f"/api/image/{middle}")
    assert res.status_code == 200 and res.mimetype == "image/png"
    from PIL import Image

    from fastlabel.data.spectrogram import WIDE_PX_PER_SECOND

    picture = Image.open(io.BytesIO(res.data)).convert("RGB")
    width, height = picture.size
    assert width == 7 * WIDE_PX_PER_SECOND and width > height  # the 7 s the context sound covers
    # the window itself (3-6 s) is bracketed: faint light lines at its edges over the quiet top rows
    edges = (3 * WIDE_PX_PER_SECOND, 6 * WIDE_PX_PER_SECOND - 1)
    assert all(min(picture.getpixel((x, height // 4))) > 80 for x in edges)
    assert max(picture.getpixel((4 * WIDE_PX_PER_SECOND, height // 4))) < 40  # silence inside: dark
    assert max(picture.getpixel((WIDE_PX_PER_SECOND, height // 4))) < 40


@pytest.mark.parametrize("path, status, message", [
    ("/api/audio/99", 404, "unknown id 99"),
    ("/api/audio/-1", 404, None),
    ("/api/audio/abc", 404, None),
    ("/api/audio/0?context=2", 400, "context must be at most 1"),
    ("/api/audio/0?context=x", 400, "context must be an integer"),
])
def test_bad_ids_and_contexts_are_refused(app, path, status, message):
    res = app.test_client().get(path)
    assert res.status_code == status
    if message:
        assert message in res.get_json()["error"]


def test_a_labeled_window_exports_with_its_file_and_times(app):
    client = app.test_client()
    batch = client.get("/api/next_batch?strategy=random&batch_size=6").get_json()
    labels = [{"id": i["id"], "label": int(i["name"] == "a.wav")} for i in batch["items"]]
    res = client.post(f"/api/submit_labels?batch_id={batch['batch_id']}", data=orjson.dumps(labels),
                      content_type="application/json")
    assert res.status_code == 200
    rows = [orjson.loads(line) for line in client.get("/api/export/labels").data.splitlines()]
    assert len(rows) == 6
    for row in rows:
        assert {"file", "start_s", "end_s"} <= set(row) and row["label"] == int(row["file"] == "a.wav")
    predictions = client.get("/api/export/predictions").get_json()["items"]
    assert all({"file", "start_s", "end_s"} <= set(p) for p in predictions)


def test_the_sound_keeps_the_token_origin_and_concept_rules(token_app):
    client = token_app.test_client()
    assert client.get("/api/audio/0").status_code == 401
    assert client.get(f"/api/audio/0?token={TOKEN}").status_code == 200
    headers = {"X-FastLabel-Token": TOKEN}
    assert client.get("/api/audio/0", headers={**headers, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert client.get("/api/audio/0", headers={**headers, "Origin": "http://attacker.example"}).status_code == 403
    res = client.get("/api/audio/0?concept=nonexistent", headers=headers)
    assert res.status_code == 404 and "concept" in res.get_json()["error"]


def test_an_image_encoder_on_recordings_fails_the_start_with_the_reason(home):
    app = create_app(Config(home=home, audio=home / "rec", encoder="imagenet"), background=False)
    state = app.test_client().get("/api/state").get_json()
    assert state["status"] == "error" and "does not embed audio" in state["error"]


def test_images_have_no_sound(new_home):
    app = create_app(Config(home=new_home(), encoder="pixels"), background=False)
    res = app.test_client().get("/api/audio/0")
    assert res.status_code == 400 and "not recordings" in res.get_json()["error"]


def test_a_birdnet_class_is_the_query_and_an_unknown_one_names_the_nearest(home):
    pytest.importorskip("ai_edge_litert")
    from fastlabel.errors import EncoderUnavailable
    from fastlabel.embeddings.birdnet import model_folder

    try:
        model_folder()
    except EncoderUnavailable as exc:
        pytest.skip(str(exc))
    config = Config(home=home, audio=home / "rec", encoder="birdnet", session=home / "birdnet-session.jsonl")
    client = create_app(config, background=False).test_client()
    assert client.get("/api/state").get_json()["encoder"]["has_text"] is True
    res = client.post("/api/set_query", json={"query": "eurasian BLACKBIRD"})
    assert res.status_code == 200 and res.get_json()["query"] == "eurasian BLACKBIRD"
    batch = client.get("/api/next_batch?strategy=verify_positives&batch_size=6").get_json()
    assert batch["batch_type"] == "positive" and len({i["prob_pos"] for i in batch["items"]}) > 1
    res = client.post("/api/set_query", json={"query": "Eurasian Blakbird"})
    assert res.status_code == 400
    message = res.get_json()["error"]
    assert "did you mean" in message and "Eurasian Blackbird" in message


def test_the_first_page_is_drawn_ahead_and_upcoming_records_nothing(home):
    from fastlabel.server.runtime import runtime

    config = Config(home=home, audio=home / "rec", encoder="logmel", batch_size=4, session=home / "ahead.jsonl")
    app = create_app(config, background=False)
    ws = runtime(app).workspace
    events = len(ws.session.engine.log.events)
    ahead = ws.session.upcoming(ws.default_strategy, 4)
    assert len(ws.session.engine.log.events) == events  # a preview is not a served page
    warmed = ws.source._cards  # the cards drawn (or being drawn) since the start, on a thread of their own
    deadline = time.monotonic() + 30
    while len(warmed) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(warmed) == 4
    served = app.test_client().get("/api/next_batch?batch_size=4").get_json()
    assert [item["id"] for item in served["items"]] == ahead
    assert len(warmed) == 4  # the page's cards were the ones drawn ahead
    assert ws.session.upcoming(ws.default_strategy, 4) == ahead  # unanswered: the same page
