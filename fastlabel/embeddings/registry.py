"""Build an encoder by name; `auto` picks the best one this machine can load, and says so loudly."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from fastlabel.data.media import IMAGE, MEDIA, media_kind
from fastlabel.embeddings.base import DEFAULT_BATCH_SIZE, Encoder
from fastlabel.embeddings.clip import DEFAULT_MODEL, DEFAULT_PRETRAINED, ClipEncoder
from fastlabel.embeddings.imagenet import INPUT_SIZE, ImagenetEncoder
from fastlabel.embeddings.logmel import LogMelEncoder
from fastlabel.embeddings.pixels import PixelEncoder
from fastlabel.embeddings.precomputed import PrecomputedEncoder, ShardEncoder
from fastlabel.embeddings.shards import is_shard_folder
from fastlabel.errors import EncoderUnavailable, InvalidInput

if TYPE_CHECKING:
    from fastlabel.config import Config

log = logging.getLogger(__name__)

# every encoder name, for every media (data/media.py says which media each embeds)
ENCODER_NAMES: tuple[str, ...] = tuple(dict.fromkeys(name for kind in MEDIA.values() for name in kind.encoders))


def _precomputed(embeddings_path: str | Path | None) -> Encoder:
    if embeddings_path is None:
        raise InvalidInput("--encoder precomputed needs --embeddings /path/to/embeddings.npy (one row per image) "
                           "or a folder of embedding shards.")
    if is_shard_folder(embeddings_path):
        return ShardEncoder(embeddings_path)
    return PrecomputedEncoder(embeddings_path)


def _imagenet(
    device: str | torch.device | None, batch_size: int, input_size: int | None, cache_dir: str | Path | None = None
) -> ImagenetEncoder:
    return ImagenetEncoder(device=device, batch_size=batch_size, input_size=input_size or INPUT_SIZE,
                           cache_dir=cache_dir)


def _auto(
    clip_model: str, clip_pretrained: str | None, device: str | torch.device | None, batch_size: int,
    input_size: int | None = None, cache_dir: str | Path | None = None,
) -> Encoder:
    """CLIP if its weights load without a network wait, else ImageNet features, else pixels."""
    may_download = "HF_HUB_OFFLINE" in os.environ  # the user's own setting wins; else no network wait
    try:
        return ClipEncoder(
            clip_model, clip_pretrained, device=device, batch_size=batch_size, allow_download=may_download
        )
    except EncoderUnavailable as exc:
        clip_problem = str(exc)
    try:
        encoder: Encoder = _imagenet(device, batch_size, input_size, cache_dir)
        fallback = "ImageNet EfficientNet-Lite0 features"
    except EncoderUnavailable as exc:
        log.warning("ImageNet encoder unavailable too: %s", exc)
        encoder = PixelEncoder()
        fallback = "raw-pixel PCA features (weak; for trying the app only)"
    log.warning(
        "\n%s\nCLIP is unavailable, so embeddings use %s and ZERO-SHOT TEXT QUERIES ARE OFF.\n%s\n%s",
        "!" * 72,
        fallback,
        clip_problem,
        "!" * 72,
    )
    return encoder


def _auto_for(media: str, build) -> Encoder:
    """`auto` for a media other than images: the first of its kind's encoders that loads here."""
    kind = media_kind(media)
    problems = []
    for name in kind.auto_order:
        try:
            encoder = build(name)
        except EncoderUnavailable as exc:
            problems.append(f"{name}: {exc}")
            continue
        if problems:
            log.warning("--encoder auto for %s: using %s (%s)", kind.name, name, "; ".join(problems))
        return encoder
    raise EncoderUnavailable(f"no encoder for {kind.name} loads here: {'; '.join(problems)}")


def make_encoder(
    name: str,
    *,
    clip_model: str = DEFAULT_MODEL,
    clip_pretrained: str | None = DEFAULT_PRETRAINED,
    embeddings_path: str | Path | None = None,
    device: str | torch.device | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    input_size: int | None = None,
    cache_dir: str | Path | None = None,
    media: str = IMAGE.name,
) -> Encoder:
    """The encoder called `name` (one of ENCODER_NAMES) for items of `media`, which must accept it.
    `auto` uses `embeddings_path` when one is given; so does any other name when it points at a shard
    folder written by that encoder. `cache_dir` holds what an encoder compiles once (the ImageNet
    encoder's ONNX graph); None: the default home's cache."""
    if any(name in kind.encoders for kind in MEDIA.values()):  # a known name, for another media: say which fit
        media_kind(media).check_encoder(name)
    if media != IMAGE.name and name == "auto" and embeddings_path is None:
        return _auto_for(media, lambda n: make_encoder(n, device=device, batch_size=batch_size, cache_dir=cache_dir,
                                                       media=media))
    if name in ("clip", "imagenet", "pixels") and embeddings_path is not None and is_shard_folder(embeddings_path):
        return ShardEncoder(embeddings_path, expected_encoder=name)
    if name == "clip":
        return ClipEncoder(clip_model, clip_pretrained, device=device, batch_size=batch_size)
    if name == "imagenet":
        return _imagenet(device, batch_size, input_size, cache_dir)
    if name == "pixels":
        return PixelEncoder()
    if name == "logmel":
        return LogMelEncoder(batch_size=batch_size)
    if name == "birdnet":
        from fastlabel.embeddings.birdnet import BirdnetEncoder  # its runtime is the optional audio extra

        return BirdnetEncoder(batch_size=batch_size)
    if name == "precomputed":
        return _precomputed(embeddings_path)
    if name == "auto":
        if embeddings_path is not None:
            return _precomputed(embeddings_path)
        return _auto(clip_model, clip_pretrained, device, batch_size, input_size, cache_dir)
    raise InvalidInput(f"Unknown encoder {name!r}; choose one of: {', '.join(media_kind(media).encoders)}.")


def encoder_from_config(config: Config) -> Encoder:
    """make_encoder with the settings of a Config."""
    return make_encoder(
        config.encoder,
        clip_model=config.clip_model,
        clip_pretrained=config.clip_pretrained,
        embeddings_path=config.embeddings,
        device=config.device,
        batch_size=config.embed_batch_size,
        input_size=config.embed_input_size,
        cache_dir=config.cache_dir,
        media=config.media,
    )
