"""ONNX export: one graph from pixels to probability, for the ImageNet encoder and the CLIP image
tower, checked in onnxruntime against torch (and against Classifier.predict_proba) on 64 images."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastlabel.data import SpriteSheet
from fastlabel.errors import FastLabelError
from fastlabel.model.classifier import ImageList
from fastlabel.model.onnx_export import CHECK_IMAGES, MAX_ABS_DIFF, export_onnx, pixels_of, require_onnx
from fastlabel.model.versions import export_version
from fastlabel.session import LabelingSession

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def trained_export(encoder, images: list[Image.Image], y: np.ndarray, query: bool):
    """A model trained on the first 24 images (the check runs on all 64)."""
    x = encoder.encode_images(ImageList(images[:24]))
    session = LabelingSession(x, seed=2, text_encoder=encoder if query else None)
    if query:
        session.set_query("a smiling face")
    batch = session.next_batch("random", 20)
    session.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
    return export_version(session, encoder), session


def check(export, encoder, images, tmp_path: Path) -> None:
    clf = export.classifier(encoder=encoder)
    pixels = pixels_of(images, export.metadata["encoder"])
    out = tmp_path / "model.onnx"
    diff = export_onnx(clf, out, pixels)
    assert diff <= MAX_ABS_DIFF
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["prob_pos"], {"pixels": pixels})[0]
    assert got.shape == (len(images),) == (CHECK_IMAGES,)
    # the graph from pixels agrees with the Python API from images (its own preprocessing)
    assert np.abs(got[:8] - clf.predict_proba(images[:8])).max() <= MAX_ABS_DIFF
    import onnx

    props = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert '"format": "fastlabel-model"' in props["fastlabel"]


@pytest.fixture(scope="module")
def faces(demo_dir) -> tuple[list[Image.Image], np.ndarray]:
    sheet = SpriteSheet(demo_dir / "sprite.png", "30x20")
    images = [sheet.image(i) for i in range(CHECK_IMAGES)]
    y = (np.arange(CHECK_IMAGES) % 3 == 0).astype(int)
    return images, y


def test_clip_image_tower_and_head_with_prior(faces, tmp_path) -> None:
    from fastlabel.embeddings.clip import ClipEncoder
    from test_model_classify import TINY_CLIP, save_tiny_clip

    encoder = ClipEncoder(str(TINY_CLIP), str(save_tiny_clip(tmp_path / "ckpt.safetensors", seed=3)))
    images, y = faces
    export, _ = trained_export(encoder, images, y, query=True)
    assert export.metadata["prior"] is not None
    check(export, encoder, images, tmp_path)


@pytest.mark.slow
def test_imagenet_encoder_and_head(faces, tmp_path, imagenet_cache) -> None:
    from fastlabel.embeddings.imagenet import ImagenetEncoder

    encoder = ImagenetEncoder(device="cpu", cache_dir=imagenet_cache)
    images, y = faces
    export, _ = trained_export(encoder, images, y, query=False)
    assert export.metadata["encoder"]["input_size"] == 224
    check(export, encoder, images, tmp_path)


def test_missing_extra_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(FastLabelError, match=r"pip install 'fastlabel\[onnx\]'"):
        require_onnx()
