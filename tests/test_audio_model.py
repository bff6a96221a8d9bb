"""A model of recordings leaves the app: its file records the encoder, sample rate, window and hop;
`fastlabel classify --audio` scores new recordings per window (rows, or Raven selection tables), and
`Classifier.predict_proba` takes audio files or (samples, rate) pairs."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from fastlabel.cli import main  # noqa: E402
from fastlabel.config import Config  # noqa: E402
from fastlabel.model.artifact import write_artifact  # noqa: E402
from fastlabel.model.classifier import Classifier  # noqa: E402
from fastlabel.model.classify import RAVEN_COLUMNS, selections  # noqa: E402
from fastlabel.model.encoders import media_spec  # noqa: E402
from fastlabel.model.versions import export_version  # noqa: E402
from fastlabel.workspace import open_workspace  # noqa: E402

RATE = 16_000


def tone(seconds: float, hz: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def noise(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.2, int(seconds * rate)).astype(np.float32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A session on 12 recordings of 2 s (tones are positive, noise negative), labeled and exported."""
    root = tmp_path_factory.mktemp("audio-model")
    rec = root / "rec"
    rec.mkdir()
    for k in range(6):
        soundfile.write(rec / f"tone{k}.wav", tone(2, 300 + 150 * k), RATE)
        soundfile.write(rec / f"noise{k}.wav", noise(2, k), RATE)
    ws = open_workspace(Config(home=root / "home", audio=rec, encoder="logmel", window_s=1.0, hop_s=0.5))
    session = ws.session
    batch = session.next_batch("random", len(ws.source))
    labels = [(i, int(ws.source.describe(i)["name"].startswith("tone"))) for i in batch.ids]
    session.submit(labels, batch_id=batch.batch_id)
    export = export_version(session, ws.encoder, media=media_spec(ws.source))
    model = root / "tones.safetensors"
    write_artifact(model, export.tensors, export.metadata)
    yield root, rec, ws, model
    ws.concepts.close()


def test_the_model_file_records_how_recordings_were_cut(trained):
    _, _, _, model = trained
    meta = Classifier.load(model).metadata
    assert meta["media"] == {"kind": "audio", "sample_rate": RATE, "window_s": 1.0, "hop_s": 0.5}
    assert meta["encoder"]["kind"] == "logmel" and meta["encoder"]["sample_rate"] == RATE
    assert meta["encoder"]["window_s"] == 3.0  # the encoder's own input length, apart from the pool's window


def test_classify_scores_every_window_as_the_session_did(trained, capsys):
    root, rec, ws, model = trained
    out = root / "windows.csv"
    assert main(["classify", str(model), "--audio", str(rec), "--out", str(out), "--home", str(root / "other")]) == 0
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["file", "start_s", "end_s", "prob_pos", "label"]
    assert len(rows) == int(ws.source.available().sum()) == 12 * 3  # 2 s in windows of 1 s every 0.5 s: at 0, 0.5 and 1 s
    probs = ws.session.probs
    session = {(w["name"], w["start_s"]): float(probs[i]) for i in range(len(ws.source))
               for w in [ws.source.describe(i)]}
    for row in rows:
        assert abs(float(row["prob_pos"]) - session[(row["file"], float(row["start_s"]))]) <= 1e-4
    assert "classified 36 windows" in capsys.readouterr().err


def test_raven_tables_merge_positive_windows_per_file(trained):
    root, rec, _, model = trained
    out = root / "raven"
    assert main(["classify", str(model), "--audio", str(rec), "--format", "raven", "--out", str(out),
                 "--home", str(root / "other")]) == 0
    tables = sorted(p.name for p in out.iterdir())
    assert tables == sorted(f"{stem}{k}.Table.1.selections.txt" for stem in ("noise", "tone") for k in range(6))
    lines = (out / "tone3.Table.1.selections.txt").read_text().splitlines()
    assert lines[0].split("\t") == list(RAVEN_COLUMNS)
    assert len(lines) == 2  # three overlapping positive windows, one selection
    fields = lines[1].split("\t")
    assert fields[:3] == ["1", "Spectrogram 1", "1"] and float(fields[3]) == 0.0 and float(fields[4]) == 2.0
    assert float(fields[6]) == RATE / 2


def test_selections_merge_touching_windows_and_keep_gaps():
    rows = [{"file": "a.wav", "start_s": s, "end_s": s + 3, "prob_pos": p, "label": int(p >= 0.5)}
            for s, p in [(0, 0.9), (3, 0.7), (6, 0.1), (9, 0.8)]] + [
        {"file": "b.wav", "start_s": 0, "end_s": 3, "prob_pos": 0.2, "label": 0}]
    found = selections(rows)
    assert [(s.begin_s, s.end_s, s.score) for s in found["a.wav"]] == [(0, 6, 0.9), (9, 12, 0.8)]
    assert found["b.wav"] == []


def test_predict_proba_takes_audio_files_and_sample_arrays(trained):
    _, rec, _, model = trained
    clf = Classifier.load(model)
    from_files = clf.predict_proba([rec / "tone1.wav", rec / "noise1.wav"])
    assert [p.shape for p in from_files] == [(3,), (3,)]
    assert from_files[0].min() > 0.5 > from_files[1].max()
    samples = soundfile.read(rec / "tone1.wav", dtype="float32")[0]
    stereo_44k = np.stack([tone(2, 450, 44_100)] * 2, axis=1)  # the same tone at another rate, in stereo
    from_arrays = clf.predict_proba([(samples, RATE), (stereo_44k, 44_100)])
    np.testing.assert_allclose(from_arrays[0], from_files[0], atol=1e-6)
    assert from_arrays[1].min() > 0.5
    assert [list(p) for p in clf.predict([(samples, RATE)])] == [[1, 1, 1]]


def test_classify_refuses_data_of_another_media(trained, capsys):
    root, rec, _, model = trained
    assert main(["classify", str(model), "--images", str(rec), "--home", str(root / "other")]) == 2
    assert "trained on audio" in capsys.readouterr().err
    assert main(["classify", str(model), "--format", "raven", "--home", str(root / "other")]) == 2
    assert "--format raven" in capsys.readouterr().err


def test_classify_on_ray_refuses_raven_tables_with_the_reason(trained, capsys):
    root, rec, _, model = trained
    assert main(["classify", str(model), "--audio", str(rec), "--engine", "ray", "--format", "raven",
                 "--out", str(root / "raven-ray"), "--home", str(root / "other")]) == 2
    assert "local engine" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None,
                    reason="needs ray and pyarrow (pip install 'fastlabel[distributed]')")
def test_windows_embed_and_classify_on_ray_as_in_one_process(trained, capsys):
    import pyarrow.parquet as pq
    import ray

    root, rec, ws, model = trained
    local = root / "local.csv"
    assert main(["classify", str(model), "--audio", str(rec), "--out", str(local), "--home", str(root / "other")]) == 0
    single = {(r["file"], float(r["start_s"])): float(r["prob_pos"]) for r in csv.DictReader(local.open())}
    out, embedded = root / "ray-shards", root / "ray-embeddings"
    cut = ["--audio", str(rec), "--encoder", "logmel", "--window", "1", "--hop", "0.5"]
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        assert main(["embed", *cut, "--engine", "ray", "--out", str(embedded), "--home", str(root / "ray-home")]) == 0
        assert main(["classify", str(model), "--audio", str(rec), "--engine", "ray", "--out", str(out),
                     "--shard-rows", "20", "--home", str(root / "other")]) == 0
    finally:
        ray.shutdown()
    served = open_workspace(Config(home=root / "ray-home", audio=rec, encoder="logmel", window_s=1.0, hop_s=0.5,
                                   embeddings=embedded))
    try:  # the shards serve the same windows the one-process session embedded
        assert np.abs(np.asarray(served.embeddings) - np.asarray(ws.embeddings)).max() <= 1e-6
    finally:
        served.concepts.close()
    assert "classified 36 windows into 2 shard(s)" in capsys.readouterr().err
    table = pq.read_table(sorted(out.glob("part-*.parquet"))).to_pylist()
    assert len(table) == 36 and set(table[0]) == {"id", "file", "start_s", "end_s", "prob_pos", "label"}
    for row in table:
        assert abs(row["prob_pos"] - single[(row["file"], row["start_s"])]) <= 1e-5
