"""Manifests (CSV, Parquet) and local Hugging Face datasets as data sources: stable ids, metadata on the
item, missing and broken files skipped and listed."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastlabel.cli import main
from fastlabel.config import Config
from fastlabel.data.manifest import ManifestSource
from fastlabel.data.sources import TableSpec, load_source
from fastlabel.errors import DataError
from fastlabel.workspace import open_workspace


def shade(path: Path, value: int, size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size, size), (value, 255 - value, (3 * value) % 256)).save(path)
    return path


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(6):
        shade(root / "img" / f"{i}.png", 40 * i)
    (root / "img" / "broken.png").write_bytes(b"not an image")
    return root


def test_csv_manifest_keeps_ids_metadata_and_lists_what_it_skips(photos: Path, tmp_path: Path) -> None:
    rows = [{"file": f"img/{i}.png", "caption": f"shade {i}", "split": "train"} for i in range(4)]
    rows += [{"file": "img/gone.png", "caption": "", "split": "x"}, {"file": "img/broken.png", "caption": "", "split": "x"},
             {"file": "img/0.png", "caption": "again", "split": "x"}]
    manifest = write_csv(photos / "list.csv", rows)
    source = ManifestSource(manifest, registry_dir=tmp_path / "reg")
    assert source.path_column == "file" and source.id_column is None
    assert source.paths[:4] == [f"img/{i}.png" for i in range(4)]
    assert source.available().tolist() == [True, True, True, True, False]
    skipped = dict(source.skipped)
    assert skipped["img/gone.png"] == "no such file or directory"
    assert "broken.png" in " ".join(skipped) and "row 8" in skipped and "listed twice" in skipped["row 8"]
    assert source.metadata(2) == {"caption": "shade 2", "split": "train"}
    assert "caption: shade 2" in source.describe(2) and source.describe(2).startswith("img/2.png")
    assert np.asarray(source.image(1)).shape == (24, 24, 3)
    # a second start with rows reordered, one removed and one added keeps every id
    write_csv(manifest, [rows[3], rows[1], {"file": "img/5.png", "caption": "new", "split": "train"}, rows[0]])
    again = ManifestSource(manifest, registry_dir=tmp_path / "reg")
    assert again.paths[:4] == [f"img/{i}.png" for i in range(4)] and again.paths[-1] == "img/5.png"
    assert again.available()[[0, 1, 3]].all() and not again.available()[2]
    assert sorted(again.changes.removed) == ["img/2.png", "img/broken.png"] and again.fingerprint() == source.fingerprint()


def test_parquet_manifest_with_an_id_column_and_absolute_paths(photos: Path, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    ids = ["a", "b", "c"]
    table = pa.table({"id": ids, "image": [str(photos / "img" / f"{i}.png") for i in range(3)], "score": [0.1, 0.2, 0.3]})
    manifest = tmp_path / "items.parquet"
    pq.write_table(table, manifest)
    source = load_source(table=TableSpec(manifest=manifest), registry_dir=tmp_path / "reg")
    assert isinstance(source, ManifestSource) and source.keys() == ids and source.metadata(1) == {"score": "0.2"}
    # the item "b" moves to another file: same id, new content
    pq.write_table(pa.table({"id": ["b", "a"], "image": [str(photos / "img/4.png"), str(photos / "img/0.png")],
                             "score": [0.5, 0.1]}), manifest)
    moved = load_source(table=TableSpec(manifest=manifest), registry_dir=tmp_path / "reg")
    assert moved.keys() == ids and moved.paths[1].endswith("img/4.png") and moved.changes.changed == ["b"]
    assert moved.available().tolist() == [True, True, False]


def test_manifest_errors_are_plain(photos: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no path column"):
        ManifestSource(write_csv(tmp_path / "m.csv", [{"where": "img/0.png"}]))
    with pytest.raises(DataError, match="does not exist"):
        ManifestSource(tmp_path / "absent.csv")
    with pytest.raises(DataError, match=r"could be read: row 2 \(no path\)"):
        ManifestSource(write_csv(tmp_path / "e.csv", [{"path": ""}]))
    assert main(["embed", "--manifest", str(tmp_path / "absent.csv"), "--encoder", "pixels",
                 "--home", str(tmp_path / "h")]) == 2


def test_hugging_face_dataset_saved_to_disk(photos: Path, tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=["dark", "light"])})
    ds = datasets.Dataset.from_dict({"img": [str(photos / "img" / f"{i}.png") for i in range(5)],
                                     "label": [0, 0, 1, 1, 1]}, features=features)
    ds = ds.cast_column("img", datasets.Image())  # bytes embedded on save
    saved = tmp_path / "saved"
    ds.save_to_disk(str(saved))
    home = tmp_path / "home"
    ws = open_workspace(Config(hf_dataset=saved, encoder="pixels", home=home))
    src = ws.source
    assert len(src) == 5 and src.available().all() and src.paths == [f"{i}.png" for i in range(5)]
    assert src.metadata(3) == {"label": "1"} and np.asarray(src.image(2)).shape == (24, 24, 3)
    assert ws.embeddings.shape[0] == 5 and "label: 1" in ws.item_name(3)
    again = load_source(table=TableSpec(hf_dataset=saved), registry_dir=home / "folders")
    assert again.fingerprint() == src.fingerprint() and again.paths == src.paths


def test_parquet_folder_as_a_dataset_with_a_broken_row(photos: Path, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pytest.importorskip("datasets")
    import pyarrow.parquet as pq

    cells = [{"bytes": (photos / "img" / f"{i}.png").read_bytes(), "path": None} for i in range(3)]
    cells.append({"bytes": b"junk", "path": None})
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"picture": cells, "n": [1, 2, 3, 4]}), folder / "part-0.parquet")
    source = load_source(table=TableSpec(hf_dataset=folder, image_column="picture", cache_dir=tmp_path / "c"),
                         registry_dir=tmp_path / "reg")
    assert source.paths == ["row 0", "row 1", "row 2", "row 3"]
    assert source.available().tolist() == [True, True, True, False] and "row 3" in dict(source.skipped)


def test_a_manifest_naming_one_file_under_many_ids_embeds_it_once(photos: Path, tmp_path: Path) -> None:
    rows = [{"id": f"item-{k}", "path": f"img/{k % 3}.png"} for k in range(30)]
    manifest = write_csv(photos / "many.csv", rows)
    seen: list[int] = []

    class Counting:
        id, has_text, logit_scale, dim = "counting", False, 1.0, 3

        def encode_images(self, source, progress=None):
            seen.append(len(source))
            return np.stack([np.asarray(source.image(i), dtype=np.float32).mean(axis=(0, 1)) for i in range(len(source))])

        def encode_text(self, text):
            raise NotImplementedError

    from fastlabel.embeddings import embed_source

    source = ManifestSource(manifest, registry_dir=tmp_path / "reg")
    assert len(source) == 30 and source.available().all()
    rows_out = embed_source(source, Counting(), tmp_path / "cache")
    assert seen == [3] and rows_out.shape == (30, 3)
    np.testing.assert_array_equal(rows_out[4], rows_out[1])
    assert not np.array_equal(rows_out[0], rows_out[1])


def test_imagefolder_layout_as_a_dataset(tmp_path: Path) -> None:
    pytest.importorskip("datasets")
    for label, value in (("cat", 30), ("dog", 200)):
        for i in range(2):
            shade(tmp_path / "imf" / "train" / label / f"{label}{i}.png", value + i)
    source = load_source(table=TableSpec(hf_dataset=tmp_path / "imf", cache_dir=tmp_path / "c"),
                         registry_dir=tmp_path / "reg")
    assert source.paths == ["cat0.png", "cat1.png", "dog0.png", "dog1.png"]
    assert [source.metadata(i)["label"] for i in range(4)] == ["0", "0", "1", "1"]
