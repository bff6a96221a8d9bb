"""CLIP image and text embeddings through open_clip; the only encoder with a text side.

Offline behaviour: loading always tries the local Hugging Face cache first with the hub switched
offline, so cached weights load with no network round trip and a miss is known in milliseconds.
Only then, if `allow_download` (off for `auto`, unless the user set HF_HUB_OFFLINE themselves)
and HF_HUB_OFFLINE does not forbid it, does it go online; with no network the hub retries for
~45 s before giving up. huggingface_hub reads HF_HUB_OFFLINE once, at import, so the switch is
re-applied here at load time (process-wide for the duration of the load).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from fastlabel.device import pick_device
from fastlabel.embeddings.base import DEFAULT_BATCH_SIZE, Progress
from fastlabel.embeddings.pipeline import run_batches
from fastlabel.files import file_sha256
from fastlabel.errors import EncoderUnavailable

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource

DEFAULT_MODEL = "ViT-B-32"
DEFAULT_PRETRAINED = "laion2b_s34b_b79k"
_CHECKPOINT_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".safetensors", ".npz", ".ckpt"})
_TRUE_WORDS = frozenset({"1", "ON", "YES", "TRUE"})


def env_says_offline() -> bool:
    """Whether the environment asks the Hugging Face hub to stay offline (as huggingface_hub reads it)."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in _TRUE_WORDS


@contextmanager
def hub_offline(force: bool = False) -> Iterator[bool]:
    """Set huggingface_hub's offline switch for the duration of a load; yields whether it is on."""
    try:
        from huggingface_hub import constants
    except ImportError:  # open_clip can run without the hub; nothing to switch then
        yield force or env_says_offline()
        return
    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = bool(force or previous or env_says_offline())
    try:
        yield constants.HF_HUB_OFFLINE
    finally:
        constants.HF_HUB_OFFLINE = previous


def _not_from_open_clip(record: logging.LogRecord) -> bool:
    return f"{os.sep}open_clip{os.sep}" not in record.pathname


@contextmanager
def open_clip_root_logs_muted() -> Iterator[None]:
    """open_clip logs failures on the root logger; mute them while our own error says it better."""
    root = logging.getLogger()
    root.addFilter(_not_from_open_clip)
    try:
        yield
    finally:
        root.removeFilter(_not_from_open_clip)


def looks_like_path(pretrained: str) -> bool:
    """True when `pretrained` is meant as a checkpoint file rather than an open_clip tag."""
    return "/" in pretrained or os.sep in pretrained or pretrained.startswith("~") or (
        Path(pretrained).suffix.lower() in _CHECKPOINT_SUFFIXES
    )


def clip_encoder_id(model_name: str, pretrained: str | None) -> str:
    """Cache identity: the tag, the checkpoint's content hash, or a one-off id for random weights."""
    if not pretrained:
        return f"clip:{model_name}:random-{uuid.uuid4().hex[:12]}"
    if os.path.isfile(pretrained):
        return f"clip:{model_name}:sha256-{file_sha256(pretrained)[:32]}"
    return f"clip:{model_name}:{pretrained}"


def _hub_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return constants.HF_HUB_CACHE
    except ImportError:
        return "~/.cache/huggingface/hub"


def missing_weights_message(model_name: str, tag: str, why: str) -> str:
    """What to do when a tag's weights are neither cached nor downloadable; `why` says why no download."""
    return (
        f"CLIP weights {model_name}/{tag} are not in the local cache ({_hub_cache_dir()}) and {why}. "
        "To fix, do one of: "
        "(1) on a machine with internet, run once "
        f"`python -c \"import open_clip; open_clip.create_model_and_transforms('{model_name}', pretrained='{tag}')\"` "
        "and copy its Hugging Face cache (~/.cache/huggingface, or $HF_HOME) to this machine; "
        "(2) copy an open_clip checkpoint here and pass --clip-pretrained /path/to/open_clip_model.safetensors; "
        "(3) start with --encoder imagenet, --encoder precomputed --embeddings file.npy, or --encoder pixels "
        "(those have no zero-shot text queries)."
    )


HUB_REPOS = {(DEFAULT_MODEL, DEFAULT_PRETRAINED): "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"}
"""Where open_clip fetches the default weights from, so a miss is known before importing open_clip."""


def known_missing(model_name: str, pretrained: str | None) -> bool:
    """True when the weights are known to come from a hub repository that is not in the local cache.
    `auto` then falls back at once, without importing open_clip or building the model (seconds of CPU
    that an embedding run on a 2-core machine would otherwise pay before its first image)."""
    repo = HUB_REPOS.get((model_name, pretrained or ""))
    if repo is None:
        return False
    snapshots = Path(_hub_cache_dir()).expanduser() / f"models--{repo.replace('/', '--')}" / "snapshots"
    return not any(snapshots.glob("*/open_clip_*"))


def _check_names(model_name: str, pretrained: str | None) -> None:
    """Fail fast, with a precise message, on a model name, tag or path open_clip cannot use."""
    import open_clip

    if ":" not in model_name and model_name not in open_clip.list_models():
        known = ", ".join(name for name in open_clip.list_models() if name.startswith("ViT-B"))
        raise EncoderUnavailable(f"Unknown CLIP model {model_name!r}. Known models include: {known}.")
    if not pretrained or os.path.isfile(pretrained) or ":" in model_name:
        return
    if looks_like_path(pretrained):
        raise EncoderUnavailable(
            f"CLIP checkpoint file not found: {pretrained}. Pass an existing file to --clip-pretrained."
        )
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained not in tags:
        raise EncoderUnavailable(
            f"Unknown pretrained tag {pretrained!r} for CLIP {model_name}. "
            f"Known tags: {', '.join(tags) or 'none'}; or pass a checkpoint file path."
        )


def _create(model_name: str, pretrained: str | None, device: torch.device) -> tuple[Any, Any, Any]:
    import open_clip

    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=pretrained, device=device)
    return model, preprocess, open_clip.get_tokenizer(model_name)


def no_download_reason() -> str:
    if env_says_offline():
        return "HF_HUB_OFFLINE is set, so nothing is downloaded"
    return "downloads are off for this load (auto never waits on the network; --encoder clip downloads)"


def load_clip(
    model_name: str, pretrained: str | None, device: torch.device, allow_download: bool = True
) -> tuple[Any, Any, Any]:
    """(model in eval mode, image preprocess, tokenizer); EncoderUnavailable says what to do on failure.

    Tries the local cache first with the hub offline (instant, no network wait even when cached);
    only when that misses, and `allow_download` and the environment permit, goes online.
    """
    if (env_says_offline() or not allow_download) and known_missing(model_name, pretrained):
        raise EncoderUnavailable(missing_weights_message(model_name, str(pretrained), no_download_reason()))
    try:
        import open_clip  # noqa: F401
    except ImportError as exc:
        raise EncoderUnavailable(f"open_clip is not installed ({exc}); pip install open_clip_torch") from exc
    _check_names(model_name, pretrained)
    try:
        with hub_offline(force=True), open_clip_root_logs_muted():
            loaded = _create(model_name, pretrained, device)
    except Exception as offline_exc:
        if pretrained and os.path.isfile(pretrained):
            raise EncoderUnavailable(
                f"Could not load the checkpoint {pretrained} into CLIP {model_name}: {offline_exc}. "
                "Check that --clip-model names the architecture the checkpoint was trained with."
            ) from offline_exc
        if env_says_offline() or not allow_download:
            why = no_download_reason()
            raise EncoderUnavailable(missing_weights_message(model_name, str(pretrained), why)) from offline_exc
        try:
            with hub_offline(force=False):
                loaded = _create(model_name, pretrained, device)
        except Exception as exc:
            why = f"downloading them failed ({exc})"
            raise EncoderUnavailable(missing_weights_message(model_name, str(pretrained), why)) from exc
    loaded[0].eval()
    return loaded


def register_model_config(model_name: str) -> str:
    """Accept a model config JSON file in place of a name: register it with open_clip, return its name."""
    if not model_name.endswith(".json"):
        return model_name
    path = Path(model_name).expanduser()
    if not path.is_file():
        raise EncoderUnavailable(f"CLIP model config {path} does not exist")
    import open_clip

    open_clip.add_model_config(path)
    return path.stem


class ClipEncoder:
    """open_clip model: `pretrained` is a tag, a local checkpoint path, or None/"" for random weights."""

    media = "image"
    has_text = True

    def __init__(
        self,
        model_name: str = DEFAULT_MODEL,
        pretrained: str | None = DEFAULT_PRETRAINED,
        device: str | torch.device | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        allow_download: bool = True,
    ) -> None:
        if pretrained and looks_like_path(pretrained):
            pretrained = os.path.expanduser(pretrained)
        model_name = register_model_config(model_name)
        self.model_name = model_name
        self.pretrained = pretrained or None
        self.device = pick_device(str(device) if device is not None else None)
        self.batch_size = batch_size
        loaded = load_clip(model_name, self.pretrained, self.device, allow_download)
        self.model, self.preprocess, self.tokenizer = loaded
        self.id = clip_encoder_id(model_name, self.pretrained)
        self.logit_scale = float(self.model.logit_scale.exp().item())
        self.dim = int(self._text_features("a photo").shape[-1])

    def _text_features(self, text: str) -> torch.Tensor:
        tokens = self.tokenizer([text]).to(self.device)
        with torch.inference_mode():
            return torch.nn.functional.normalize(self.model.encode_text(tokens).float(), dim=-1)[0]

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray:
        return run_batches(
            source,
            self.preprocess,
            self.model.encode_image,
            dim=self.dim,
            device=self.device,
            batch_size=self.batch_size,
            progress=progress,
        )

    def encode_text(self, text: str) -> np.ndarray:
        return self._text_features(text).cpu().numpy().astype(np.float32, copy=False)
