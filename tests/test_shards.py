"""Embedding shards (clip-retrieval layout): reading them in item order, refusing bad folders, and the
Ray Data engine on a tiny folder (skipped without ray)."""

from __future__ import annotations

import importlib.util
import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from fastlabel.cli import main
from fastlabel.config import Config
from fastlabel.data import ImageFolder, SpriteSheet
from fastlabel.embeddings import make_encoder
from fastlabel.embeddings.imagenet import ImagenetEncoder
from fastlabel.embeddings.precomputed import ShardEncoder
from fastlabel.embeddings.shards import scan_shards, write_manifest, write_shard
from fastlabel.errors import DataError

pa = pytest.importorskip("pyarrow", reason="shard metadata is parquet: pip install pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

N_IMAGES = 60


def face_files(out: Path, sprite: Path, count: int) -> Path:
    """`count` demo faces as PNG files, a third of them in a subfolder."""
    sheet = SpriteSheet(sprite, "30x20")
    (out / "sub").mkdir(parents=True)
    for i in range(count):
        sheet.image(i).save(out / ("sub" if i % 3 == 0 else "") / f"face{i:03d}.png")
    return out


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory, demo_dir: Path) -> Path:
    return face_files(tmp_path_factory.mktemp("faces"), demo_dir / "sprite.png", N_IMAGES)


def rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def clip_retrieval_folder(root: Path, embeddings: np.ndarray, paths: list[str], per_shard: int) -> Path:
    """What clip-retrieval writes: zero-padded img_emb/metadata shards, float16, image_path only."""
    (root / "img_emb").mkdir(parents=True)
    (root / "metadata").mkdir()
    for k, start in enumerate(range(0, len(paths), per_shard)):
        np.save(root / "img_emb" / f"img_emb_{k:02d}.npy", embeddings[start:start + per_shard].astype(np.float16))
        pq.write_table(pa.table({"image_path": paths[start:start + per_shard]}), root / "metadata" / f"metadata_{k:02d}.parquet")
    return root


def test_clip_retrieval_shards_are_matched_to_the_folder_by_path(image_dir: Path, tmp_path: Path) -> None:
    folder = ImageFolder(image_dir)
    truth = rows(len(folder), 24)
    shuffled = np.random.default_rng(1).permutation(len(folder))  # written in another order, absolute paths
    paths = [str(image_dir / folder.paths[i]) for i in shuffled]
    shards = clip_retrieval_folder(tmp_path / "out", truth[shuffled], paths, per_shard=25)
    encoder = make_encoder("auto", embeddings_path=shards)
    assert isinstance(encoder, ShardEncoder) and encoder.dim == 24
    got = encoder.encode_images(folder)
    assert got.dtype == np.float32 and got.shape == truth.shape
    np.testing.assert_allclose(got, truth, atol=2e-3)  # float16 on disk


def test_our_shards_place_rows_by_id(demo_dir: Path, tmp_path: Path) -> None:
    sheet = SpriteSheet(demo_dir / "sprite.png", "30x20")
    truth = rows(len(sheet), 16)
    order = np.random.default_rng(2).permutation(len(sheet))
    for k, part in enumerate(np.array_split(order, 4)):
        write_shard(tmp_path, k, truth[part], part, None)
    write_manifest(tmp_path, encoder_id="imagenet:test", dim=16, count=len(sheet), source=sheet.name,
                   source_fingerprint=sheet.fingerprint())
    np.testing.assert_allclose(ShardEncoder(tmp_path).encode_images(sheet), truth, atol=1e-6)


def test_bad_shard_folders_are_refused_with_what_is_wrong(image_dir: Path, tmp_path: Path) -> None:
    folder = ImageFolder(image_dir)
    good = clip_retrieval_folder(tmp_path / "good", rows(len(folder), 8), folder.paths, per_shard=20)

    def broken(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(good, copy)
        return copy

    gap = broken("gap")
    (gap / "img_emb" / "img_emb_01.npy").unlink()
    (gap / "metadata" / "metadata_01.parquet").unlink()
    with pytest.raises(DataError, match="missing img_emb shard 1"):
        scan_shards(gap)

    no_meta = broken("no_meta")
    (no_meta / "metadata" / "metadata_02.parquet").unlink()
    with pytest.raises(DataError, match="3 img_emb shards but 2 metadata"):
        scan_shards(no_meta)

    misaligned = broken("misaligned")
    np.save(misaligned / "img_emb" / "img_emb_00.npy", rows(19, 8))
    with pytest.raises(DataError, match="img_emb_00.npy has 19 rows but metadata_00.parquet has 20"):
        scan_shards(misaligned)

    mixed = broken("mixed")
    np.save(mixed / "img_emb" / "img_emb_02.npy", rows(20, 12))
    with pytest.raises(DataError, match=r"mixes embedding widths \[8, 12\]"):
        scan_shards(mixed)

    partial = broken("partial")  # paths that do not cover the folder
    pq.write_table(pa.table({"image_path": [f"elsewhere/{i}.png" for i in range(20)]}),
                   partial / "metadata" / "metadata_01.parquet")
    with pytest.raises(DataError, match="20 of the 60 images .* have no embedding"):
        ShardEncoder(partial).encode_images(folder)

    labelled = broken("labelled")
    write_manifest(labelled, encoder_id="clip:ViT-B-32:laion2b_s34b_b79k", dim=8)
    with pytest.raises(DataError, match="holds embeddings from clip:ViT-B-32.*not from the imagenet encoder"):
        make_encoder("imagenet", embeddings_path=labelled)
    write_manifest(labelled, encoder_id="imagenet:x", dim=16)
    with pytest.raises(DataError, match="says 16-d embeddings but the shards are 8-d"):
        scan_shards(labelled)


def test_shards_for_other_data_are_refused(demo_dir: Path, tmp_path: Path) -> None:
    sheet = SpriteSheet(demo_dir / "sprite.png", "30x20")
    write_shard(tmp_path, 0, rows(600, 8), np.arange(600), None)
    write_manifest(tmp_path, encoder_id="imagenet:x", dim=8, source="other.png", source_fingerprint="not-this-one")
    with pytest.raises(DataError, match="written for other data"):
        ShardEncoder(tmp_path).encode_images(sheet)


def test_cli_reports_a_bad_shard_folder_without_a_trace(image_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "bad" / "img_emb").mkdir(parents=True)
    np.save(tmp_path / "bad" / "img_emb" / "img_emb_0.npy", rows(4, 8))
    np.save(tmp_path / "bad" / "img_emb" / "img_emb_2.npy", rows(4, 8))
    code = main(["embed", "--images", str(image_dir), "--embeddings", str(tmp_path / "bad"),
                 "--home", str(tmp_path / "home")])
    err = capsys.readouterr().err
    assert code == 2 and "missing img_emb shard 1" in err and "Traceback" not in err


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="ray is not installed (pip install 'fastlabel[distributed]')")
def test_ray_engine_matches_a_single_process(demo_dir: Path, tmp_path: Path) -> None:
    """Local mode on a few hundred files: shards in the clip-retrieval layout, equal to one process."""
    import ray

    from fastlabel.embeddings.ray_engine import embed_with_ray

    image_dir = face_files(tmp_path / "faces", demo_dir / "sprite.png", 240)
    config = Config(images=image_dir, encoder="imagenet", embed_input_size=64, device="cpu", home=tmp_path / "home")
    try:
        shards = embed_with_ray(config, partial(ImageFolder, image_dir), tmp_path / "shards", shard_rows=100)
    finally:
        ray.shutdown()
    assert [p.name for p in shards.arrays] == ["img_emb_0.npy", "img_emb_1.npy", "img_emb_2.npy"]
    assert shards.total == 240 and shards.encoder_id == "imagenet:efficientnet_lite0@64px"
    folder = ImageFolder(image_dir)
    single = ImagenetEncoder(device="cpu", input_size=64, cache_dir=config.cache_dir).encode_images(folder)
    served = make_encoder("imagenet", embeddings_path=tmp_path / "shards").encode_images(folder)
    assert float(np.min(np.sum(single * served, axis=1))) >= 0.9999
