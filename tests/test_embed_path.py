"""What `fastlabel embed` pays before its first image: the ONNX graph comes from the machine-wide cache
in a new home, and `auto` knows the CLIP weights are missing without building CLIP."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastlabel.embeddings import clip, onnx_runtime
from fastlabel.embeddings.imagenet import ImagenetEncoder
from fastlabel.embeddings.registry import make_encoder

pytest.importorskip("onnxruntime")


def test_a_new_home_copies_the_shared_graph_instead_of_exporting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTLABEL_GRAPH_CACHE", str(tmp_path / "shared"))
    first = ImagenetEncoder(device="cpu", input_size=64, cache_dir=tmp_path / "home1")
    assert first.runs_on == "onnxruntime" and (tmp_path / "shared" / first.onnx.path.name).is_file()

    def no_build() -> None:
        raise AssertionError("the shared graph should be used; the model was built to export it again")

    monkeypatch.setattr("fastlabel.embeddings.imagenet.build_model", no_build)
    second = ImagenetEncoder(device="cpu", input_size=64, cache_dir=tmp_path / "home2")
    assert second.runs_on == "onnxruntime" and second.onnx.path.parent == tmp_path / "home2" / "onnx"
    assert second.onnx.path.read_bytes() == first.onnx.path.read_bytes()
    monkeypatch.setenv("FASTLABEL_GRAPH_CACHE", "")
    assert onnx_runtime.shared_graph_dir() is None


def test_auto_falls_back_without_building_clip_when_its_weights_are_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def built(*args: object) -> None:
        raise AssertionError("CLIP was built although its weights are known to be missing")

    monkeypatch.setattr(clip, "_create", built)
    assert clip.known_missing(clip.DEFAULT_MODEL, clip.DEFAULT_PRETRAINED)
    encoder = make_encoder("auto", device="cpu", cache_dir=tmp_path / "cache")
    assert isinstance(encoder, ImagenetEncoder)
    snapshot = tmp_path / "hub" / "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "open_clip_model.safetensors").write_bytes(b"")
    assert not clip.known_missing(clip.DEFAULT_MODEL, clip.DEFAULT_PRETRAINED)
