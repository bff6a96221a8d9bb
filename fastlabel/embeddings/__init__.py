"""Frozen image embeddings (CLIP, ImageNet, pixels, or a precomputed file) and their on-disk cache."""

from fastlabel.embeddings.base import Encoder, Progress
from fastlabel.embeddings.cache import EmbeddingCache
from fastlabel.embeddings.embed import embed_source
from fastlabel.embeddings.registry import ENCODER_NAMES, encoder_from_config, make_encoder

__all__ = [
    "ENCODER_NAMES",
    "EmbeddingCache",
    "Encoder",
    "Progress",
    "embed_source",
    "encoder_from_config",
    "make_encoder",
]
