"""ONNX export (extra `[onnx]`): one graph from pixels to P(positive).

Input `pixels`: float32 (N, 3, H, W), RGB in [0, 1], already resized (and for CLIP centre-cropped)
to the encoder's input size. The graph normalises with the encoder's mean/std, runs the image
tower (EfficientNet-Lite0, or the CLIP image tower), L2-normalises, applies the head and, when
the model has one, the blended text prior. Output `prob_pos`: float32 (N,). The metadata JSON
rides along in the graph's metadata_props under "fastlabel".
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import FastLabelError
from .classifier import Classifier

INSTALL_HINT = "ONNX export needs the onnx extra: pip install 'fastlabel[onnx]' (onnx and onnxruntime)"
OPSET = 17
CHECK_IMAGES = 64
MAX_ABS_DIFF = 1e-4


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise FastLabelError(f"{INSTALL_HINT} ({exc})") from None


class PixelsToProbability(nn.Module):
    """normalise -> image tower -> unit embedding -> head (+ prior) -> probability."""

    def __init__(self, clf: Classifier) -> None:
        super().__init__()
        spec = clf.metadata["encoder"]
        if spec["kind"] == "imagenet":
            from ..embeddings.imagenet import build_model

            # a fresh copy: the encoder's own may hold inference-mode tensors, which cannot be traced
            self.tower = _ImagenetTower(build_model())
        elif spec["kind"] == "open_clip":
            self.tower = clf.encoder.model.visual
        else:
            raise FastLabelError(f"ONNX export covers the imagenet and open_clip encoders, not {spec['kind']!r}")
        self.tower = self.tower.float().cpu().eval()
        self.register_buffer("mean", torch.tensor(spec["mean"], dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(spec["std"], dtype=torch.float32).view(1, 3, 1, 1))
        self.head = clf.head
        self.prior = clf.prior
        if clf.prior is not None:
            self.register_buffer("text", torch.from_numpy(np.asarray(clf.prior.text, np.float32)))
        self.size = int(spec["input_size"])

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.tower((pixels - self.mean) / self.std)
        x = nn.functional.normalize(features.float(), dim=-1)
        prob = torch.sigmoid(self.head(x))
        if self.prior is not None:
            logits = self.prior.logit_scale * (x @ self.text - self.prior.center)
            prior = torch.sigmoid(logits.clamp(-30, 30))
            prob = self.prior.weight * prior + (1 - self.prior.weight) * prob
        return prob


class _ImagenetTower(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model.to(memory_format=torch.contiguous_format)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(x), pre_logits=True)


def pixels_of(images: list[Image.Image], spec: dict) -> np.ndarray:
    """Images -> (N, 3, S, S) float32 in [0, 1], resized as the encoder does: ImageNet squashes to the
    square, CLIP takes the shortest side to S (bicubic) and centre-crops."""
    size = int(spec["input_size"])
    out = np.empty((len(images), 3, size, size), np.float32)
    for k, image in enumerate(images):
        image = image.convert("RGB")
        if spec["kind"] == "imagenet":
            crop = image.resize((size, size), Image.Resampling.BICUBIC)
        else:
            w, h = image.size
            scale = size / min(w, h)
            image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
            left, top = (image.width - size) // 2, (image.height - size) // 2
            crop = image.crop((left, top, left + size, top + size))
        out[k] = np.asarray(crop, np.float32).transpose(2, 0, 1) / 255.0
    return out


def export_onnx(clf: Classifier, out: Path, check_pixels: np.ndarray) -> float:
    """Write the graph to `out`, then run it in onnxruntime against torch on `check_pixels`;
    returns the max abs difference (FastLabelError, and no file, when above MAX_ABS_DIFF)."""
    require_onnx()
    import onnx

    module = PixelsToProbability(clf).eval()
    dummy = torch.from_numpy(check_pixels[:2])
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    fastpath = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)  # the fused attention kernel has no ONNX form
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constant shapes; the check below is the test
            torch.onnx.export(module, (dummy,), str(tmp), dynamo=False, input_names=["pixels"],
                              output_names=["prob_pos"],
                              dynamic_axes={"pixels": {0: "n"}, "prob_pos": {0: "n"}}, opset_version=OPSET)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
    graph = onnx.load(str(tmp))
    onnx.helper.set_model_props(graph, {"fastlabel": json.dumps(clf.metadata, sort_keys=True)})
    onnx.save(graph, str(tmp))
    diff = max_abs_diff(module, tmp, check_pixels)
    if not diff <= MAX_ABS_DIFF:
        tmp.unlink(missing_ok=True)
        raise FastLabelError(f"the ONNX graph differs from torch by {diff:.2e} (> {MAX_ABS_DIFF}); nothing written")
    tmp.replace(out)
    return diff


def max_abs_diff(module: nn.Module, onnx_path: Path, pixels: np.ndarray) -> float:
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(["prob_pos"], {"pixels": pixels.astype(np.float32)})[0]
    with torch.no_grad():
        want = module(torch.from_numpy(pixels)).numpy()
    return float(np.abs(got - want).max())
