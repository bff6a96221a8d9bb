"""`fastlabel classify --engine ray` in local mode: parquet shards with the one-process classify's
probabilities (to 1e-5), resumed by shard."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fastlabel
from fastlabel.cli import main
from fastlabel.model.artifact import write_artifact
from fastlabel.model.versions import export_version


def face_manifest(folder: Path, sprite: Path, n: int) -> Path:
    """The first n demo faces as files, listed in a manifest with relative paths and an id column."""
    sheet = Image.open(sprite).convert("RGB")
    rows = []
    for i in range(n):
        box = (48 * (i % 30), 48 * (i // 30), 48 * (i % 30) + 48, 48 * (i // 30) + 48)
        path = folder / "faces" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.crop(box).save(path)
        rows.append({"id": f"face-{i}", "path": f"faces/{i:03d}.png", "group": i % 3})
    manifest = folder / "faces.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "path", "group"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None or importlib.util.find_spec("pyarrow") is None,
                    reason="needs ray and pyarrow (pip install 'fastlabel[distributed]')")
def test_ray_local_mode_equals_one_process_classify(demo_dir: Path, tmp_path: Path, capsys) -> None:
    import pyarrow.parquet as pq
    import ray

    manifest = face_manifest(tmp_path, demo_dir / "sprite.png", 24)
    home = tmp_path / "home"
    truth = np.loadtxt(demo_dir / "attributes.csv", delimiter=",", skiprows=1, usecols=1, dtype=int)
    with fastlabel.open(home=home, manifest=manifest, encoder="imagenet", embed_input_size=64, device="cpu") as ws:
        concept = ws.concept("smiling")
        page = concept.next_page(size=16)
        concept.submit(page, {i: int(truth[i]) for i in page.ids})
        inner = ws.inner
        export = export_version(concept.session, inner.encoder, data_id=inner.source.fingerprint())
    model = tmp_path / "smiling.safetensors"
    write_artifact(model, export.tensors, export.metadata)
    base = [str(model), "--manifest", str(manifest), "--home", str(home), "--device", "cpu"]
    assert main(["classify", *base, "--out", str(tmp_path / "one.csv")]) == 0
    with (tmp_path / "one.csv").open() as handle:
        single = {int(r["id"]): float(r["prob_pos"]) for r in csv.DictReader(handle)}
    out = tmp_path / "shards"
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        assert main(["classify", *base, "--engine", "ray", "--out", str(out), "--shard-rows", "10"]) == 0
        first = {p.name: p.stat().st_mtime_ns for p in out.glob("part-*.parquet")}
        assert sorted(first) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
        (out / "part-00001.parquet").unlink()  # a run stopped before this shard: only it is redone
        assert main(["classify", *base, "--engine", "ray", "--out", str(out), "--shard-rows", "10"]) == 0
        assert "1 written, 2 already there" in capsys.readouterr().err
        assert all((out / name).stat().st_mtime_ns == stamp for name, stamp in first.items() if name != "part-00001.parquet")
        assert main(["classify", *base, "--engine", "ray", "--out", str(out), "--shard-rows", "8"]) == 2  # another job
    finally:
        ray.shutdown()
    table = pq.read_table(sorted(out.glob("part-*.parquet")))
    got = dict(zip(table.column("id").to_pylist(), table.column("prob_pos").to_pylist()))
    assert set(got) == set(single) and len(got) == 24
    assert max(abs(got[i] - single[i]) for i in got) <= 1e-5
    assert table.column("path").to_pylist()[0] == "faces/000.png"
