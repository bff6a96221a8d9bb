"""A folder of recordings that changes between starts: every label kept, only new audio embedded, a
truncated file skipped and listed; and a journal of recordings reopens with no data flags."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from fastlabel.cli import main  # noqa: E402
from fastlabel.config import Config  # noqa: E402
from fastlabel.workspace import open_workspace  # noqa: E402

RATE = 16_000


def write(path: Path, hz: float, seconds: float = 6.0) -> None:
    t = np.arange(int(seconds * RATE)) / RATE
    soundfile.write(path, (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32), RATE, subtype="PCM_16")


def test_labels_survive_a_growing_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rec, home = tmp_path / "rec", tmp_path / "home"
    rec.mkdir()
    for k, name in enumerate(("a.wav", "b.wav", "c.wav")):
        write(rec / name, 300 + 200 * k)  # 6 s: two windows of 3 s each
    config = Config(home=home, audio=rec, encoder="logmel")
    ws = open_workspace(config)
    assert len(ws.source) == 6
    batch = ws.session.next_batch("random", 6)
    given = {i: int(ws.source.describe(i)["name"] == "a.wav") for i in batch.ids}
    ws.session.submit(sorted(given.items()), batch_id=batch.batch_id)
    where = {i: ws.source.describe(i) for i in given}
    journal = ws.session.log.journal
    ws.concepts.close()

    write(rec / "d.wav", 900, seconds=4.0)  # new: two windows (the second padded)
    os.utime(rec / "b.wav", (1e9, 1e9))  # touched: the same content
    data = (rec / "c.wav").read_bytes()
    (rec / "c.wav").write_bytes(data[: len(data) // 2])  # truncated: the header promises more than is there

    caplog.set_level(logging.INFO)
    ws = open_workspace(config)
    try:
        assert dict(ws.session.state.labels) == given  # every label kept, on the same windows
        assert {i: ws.source.describe(i) for i in given} == where
        embedded = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Embedded ")]
        assert len(embedded) == 1 and embedded[0].startswith("Embedded 2 new or changed windows"), embedded
        summary = ws.summary()
        skipped = {s["path"]: s["reason"] for s in summary["skipped"]}
        assert list(skipped) == ["c.wav"] and "truncated" in skipped["c.wav"]
        assert summary["folder_changes"]["new"] == 1
        served = ws.source.available()
        names = [ws.source.describe(i)["name"] for i in range(len(ws.source))]
        assert sorted(n for n, s in zip(names, served) if s) == ["a.wav", "a.wav", "b.wav", "b.wav", "d.wav", "d.wav"]
        rows = [r for r in ws.export_labels_jsonl().splitlines()]
        assert len(rows) == len(given)  # the truncated file's labels are exported too
    finally:
        ws.concepts.close()

    # the journal says where its recordings are and how they were cut: no data flags needed
    out = tmp_path / "m.safetensors"
    assert main(["export-model", str(journal), "--out", str(out), "--home", str(home)]) == 0
    assert out.stat().st_size > 0
