"""A journal says where its data is and how it was embedded, so `replay`, `predict` and `export-model`
need only the journal; flags still override, a pool that is not the recorded one is refused, and a
journal from before sources were recorded names the flags to add (or needs none, for the demo)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import orjson
import pytest
from PIL import Image

from fastlabel.cli import build_parser, main
from fastlabel.cli.arguments import journal_config
from fastlabel.cli.commands import serve_config
from fastlabel.config import Config
from fastlabel.data import ImageFolder
from fastlabel.errors import InvalidInput
from fastlabel.events import DataSource, EncoderConfig, SessionStarted, event_from_dict, load_events
from fastlabel.provenance import describe_encoder, describe_source, recorded_settings, settings_from_encoder_id
from fastlabel.replay import replay_session
from fastlabel.workspace import open_workspace

RECORDED = Path(__file__).absolute().parent.parent / "replays" / "demo-smiling.jsonl"


def test_session_started_keeps_its_source_and_encoder_config_through_the_journal_form():
    started = SessionStarted(seq=1, ts=0.0, data="f", encoder="pixels:16:pca128:seed0",
                             source=DataSource("sprite", "faces.png", grid="30x20", tile=48),
                             encoder_config=EncoderConfig("pixels"))
    raw = orjson.loads(orjson.dumps(started.to_dict()))
    assert raw["v"] == 3 and raw["source"] == {"kind": "sprite", "location": "faces.png", "grid": "30x20", "tile": 48}
    assert event_from_dict(raw) == started
    old = event_from_dict({"type": "session_started", "v": 2, "seq": 1, "ts": 0, "data": "f", "encoder": "x"})
    assert old.source is None and old.encoder_config is None
    with pytest.raises(InvalidInput, match="source kind must be one of"):
        event_from_dict({**raw, "source": {"kind": "tape", "location": "x"}})
    with pytest.raises(InvalidInput, match="unknown fields: colour"):
        event_from_dict({**raw, "encoder_config": {"kind": "clip", "colour": "red"}})
    audio = DataSource("audio", "calls/", window=5.0, hop=2.5)
    assert event_from_dict({**raw, "source": {"kind": "audio", "location": "calls/", "window": 5.0, "hop": 2.5}}
                           ).source == audio


def test_flags_override_the_journal_field_by_field():
    started = SessionStarted(seq=1, ts=0.0, data="f", encoder="clip:ViT-B-32:laion2b_s34b_b79k",
                             source=DataSource("sprite", "faces.png", grid="30x20", tile=48),
                             encoder_config=EncoderConfig("clip", model="ViT-B-32", pretrained="laion2b_s34b_b79k"))
    none = dict.fromkeys(("sprite", "grid", "tile", "images", "encoder", "clip_pretrained"))
    assert recorded_settings(started, none) == {"sprite": Path("faces.png"), "grid": "30x20", "tile": 48,
                                                "encoder": "clip", "clip_model": "ViT-B-32",
                                                "clip_pretrained": "laion2b_s34b_b79k"}
    moved = recorded_settings(started, {**none, "sprite": Path("new/faces.png"), "clip_pretrained": "/w/ckpt.pt"})
    assert moved["sprite"] == Path("new/faces.png") and moved["grid"] == "30x20"  # the grid still holds
    assert moved["clip_pretrained"] == "/w/ckpt.pt" and moved["clip_model"] == "ViT-B-32"
    other = recorded_settings(started, {**none, "images": Path("photos"), "encoder": "imagenet"})
    assert other == {"images": Path("photos"), "encoder": "imagenet"}  # nothing of the recorded sprite or CLIP


def test_an_old_encoder_id_says_what_builds_it_where_it_can():
    assert settings_from_encoder_id("pixels:16:pca128:seed0") == {"encoder": "pixels"}
    assert settings_from_encoder_id("imagenet:efficientnet_lite0@320px") == {"encoder": "imagenet",
                                                                             "embed_input_size": 320}
    assert settings_from_encoder_id("clip:hf-hub:org/model:tag1") == {
        "encoder": "clip", "clip_model": "hf-hub:org/model", "clip_pretrained": "tag1"}
    assert settings_from_encoder_id("clip:ViT-B-32:sha256-0123abcd") is None
    assert settings_from_encoder_id("precomputed:sha256-0123abcd") is None


def test_a_folder_and_auto_chosen_encoders_are_described_as_they_rebuild(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for k in range(3):
        Image.new("RGB", (8, 8), (k * 80, 0, 0)).save(photos / f"{k}.png")
    folder = ImageFolder(photos, registry_dir=tmp_path / "folders")
    described = describe_source(Config(images=photos), folder)
    assert described == DataSource("folder", str(photos), folder_id=folder.registry.folder_id)
    started = SessionStarted(seq=1, ts=0.0, source=described)
    assert recorded_settings(started, {}) == {"images": photos}

    clip = SimpleNamespace(id="clip:ViT-B-16:openai", model_name="ViT-B-16", pretrained="openai")
    assert describe_encoder(Config(encoder="auto"), clip) == EncoderConfig("clip", model="ViT-B-16", pretrained="openai")
    imagenet = SimpleNamespace(id="imagenet:efficientnet_lite0@320px", input_size=320)
    assert describe_encoder(Config(encoder="auto"), imagenet) == EncoderConfig("imagenet", input_size=320)
    shards = SimpleNamespace(id="shards:clip:ViT-B-32:laion:sha256-00")
    assert describe_encoder(Config(embeddings=Path("emb")), shards) == EncoderConfig("precomputed", embeddings="emb")


@pytest.fixture(scope="module")
def journal_today(new_home, tmp_path_factory):
    """A journal written by this release: two labeled pages on a sprite given by path."""
    home = new_home("today")
    sprite = tmp_path_factory.mktemp("data") / "faces.png"
    shutil.copy(home / "demo" / "sprite.png", sprite)
    journal = home / "today.jsonl"
    ws = open_workspace(Config(sprite=sprite, grid="30x20", encoder="pixels", home=home, session=journal))
    truth = np.arange(600) % 3 == 0
    for strategy in ("random", "random"):
        page = ws.session.next_batch(strategy, 24)
        ws.session.submit([(int(i), int(truth[i])) for i in page.ids], batch_id=page.batch_id)
    probs = np.asarray(ws.session.probs).copy()
    ws.session.log.close()
    return home, sprite, journal, probs


def test_a_journal_written_today_records_its_source_and_encoder(journal_today):
    _, sprite, journal, _ = journal_today
    first = orjson.loads(journal.read_bytes().splitlines()[0])
    assert first["source"] == {"kind": "sprite", "location": str(sprite), "grid": "30x20", "tile": 48}
    assert first["encoder_config"] == {"kind": "pixels"} and first["encoder"] == "pixels:16:pca128:seed0"


def test_a_journal_written_today_replays_predicts_and_exports_with_no_flags(journal_today, tmp_path, capsys):
    home, _, journal, probs = journal_today
    events = load_events(journal)  # no data, no encoder flags: both from the journal
    config, recording = journal_config(build_parser().parse_args(["replay", str(journal), "--home", str(home)]), events)
    assert config.sprite is not None and config.encoder == "pixels" and recording is not None
    np.testing.assert_allclose(replay_session(events, config, recording=recording).probs, probs, atol=1e-6)

    assert main(["predict", str(journal), "--home", str(home), "--out", str(tmp_path / "p.json")]) == 0
    assert len(orjson.loads((tmp_path / "p.json").read_bytes())["items"]) == 600
    assert main(["export-model", str(journal), "--home", str(home), "--out", str(tmp_path / "m.safetensors")]) == 0
    assert (tmp_path / "m.safetensors").stat().st_size > 0
    assert main(["replay", str(journal), "--home", str(home)]) == 0
    assert "labels: 48" in capsys.readouterr().out


def test_serve_resumes_a_journal_on_its_recorded_data_with_no_flags(journal_today, tmp_path):
    home, sprite, journal, _ = journal_today
    args = build_parser().parse_args(["serve", "--session", str(journal), "--home", str(home)])
    config = serve_config(args, token=None)
    assert (config.sprite, config.grid, config.tile, config.encoder) == (sprite, "30x20", 48, "pixels")
    fresh = build_parser().parse_args(["serve", "--session", str(tmp_path / "new.jsonl"), "--encoder", "pixels"])
    assert serve_config(fresh, token=None).sprite is None  # a new journal: the flags (here: the demo)


def test_flags_override_a_moved_source_and_a_mismatch_is_a_clear_error(journal_today, tmp_path, capsys):
    home, sprite, journal, _ = journal_today
    lines = journal.read_bytes().splitlines()
    first = orjson.loads(lines[0])
    moved_journal = tmp_path / "moved.jsonl"  # its sprite is no longer where it was recorded
    moved_journal.write_bytes(b"\n".join([orjson.dumps({**first, "source": {**first["source"], "location": str(
        tmp_path / "gone.png")}}), *lines[1:]]) + b"\n")
    assert main(["replay", str(moved_journal), "--home", str(home)]) == 2
    assert "if it has moved, give it with --sprite" in capsys.readouterr().err
    moved = tmp_path / "moved.png"
    shutil.copy(sprite, moved)
    assert main(["replay", str(moved_journal), "--home", str(home), "--sprite", str(moved)]) == 0  # grid: recorded

    other = tmp_path / "other.png"
    shutil.copy(sprite, other)
    with open(other, "ab") as fh:
        fh.write(b"changed")  # other bytes: other data
    assert main(["export-model", str(journal), "--home", str(home), "--sprite", str(other),
                 "--out", str(tmp_path / "m.safetensors")]) == 2
    assert "recorded on data" in capsys.readouterr().err

    embeddings = tmp_path / "e.npy"
    np.save(embeddings, np.zeros((600, 4), np.float32))
    assert main(["predict", str(journal), "--home", str(home), "--encoder", "precomputed", "--embeddings",
                 str(embeddings), "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "recorded with encoder pixels:16:pca128:seed0 but these flags give precomputed:" in err
    assert not (tmp_path / "p.json").exists()


def old_journal(tmp_path: Path, data: str, encoder: str) -> Path:
    """The recorded demo session as an older release wrote it, on other data or another encoder."""
    lines = RECORDED.read_bytes().splitlines()
    first = {**orjson.loads(lines[0]), "data": data, "encoder": encoder}
    path = tmp_path / "old.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(first), *lines[1:]]) + b"\n")
    return path


def test_an_old_journal_names_exactly_the_flags_to_add(new_home, tmp_path, capsys):
    home = new_home("old")
    journal = old_journal(tmp_path, "c0ffee" * 10, "pixels:16:pca128:seed0")
    assert main(["export-model", str(journal), "--home", str(home), "--out", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert ("this journal predates recorded data sources; add --sprite SPRITE.png --grid COLSxROWS --tile PX "
            "(the 600 tiles whose data fingerprint is c0ffeec0ffeec0ff...) --encoder pixels") in err

    journal = old_journal(tmp_path, "folder:0123456789abcdef0123", "precomputed:sha256-abcdef0123456789abcdef")
    assert main(["replay", str(journal), "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert ("add --images FOLDER (whose item registry is 0123456789abcdef...) --encoder precomputed "
            "--embeddings FILE.npy (the file with sha256-abcdef0123456789...)") in err


def test_the_recorded_demo_journal_exports_with_no_flags(new_home, tmp_path, capsys):
    """Written by an older release: its fingerprint is the generated demo's and its encoder id says pixels."""
    home = new_home("recorded")
    out = tmp_path / "m.safetensors"
    assert main(["export-model", str(RECORDED), "--home", str(home), "--out", str(out)]) == 0
    assert "encoder pixels:16:pca128:seed0" in capsys.readouterr().out and out.stat().st_size > 0


def test_a_journal_of_recordings_records_its_windows_and_replays_with_no_flags(tmp_path, capsys):
    pytest.importorskip("soundfile")
    from test_audio_app import write_recordings

    home = tmp_path / "home"
    recordings = write_recordings(home / "rec")
    journal = home / "calls.jsonl"
    ws = open_workspace(Config(home=home, audio=recordings, encoder="logmel", session=journal, window_s=2.0))
    page = ws.session.next_batch("random", 4)
    ws.session.submit([(int(i), int(i) % 2) for i in page.ids], batch_id=page.batch_id)
    ws.concepts.close()
    source = orjson.loads(journal.read_bytes().splitlines()[0])["source"]
    assert source["kind"] == "audio" and source["location"] == str(recordings)
    assert source["window"] == 2.0 and source["hop"] == 2.0 and source["folder_id"]
    assert main(["replay", str(journal), "--home", str(home)]) == 0
    assert "labels: 4" in capsys.readouterr().out
