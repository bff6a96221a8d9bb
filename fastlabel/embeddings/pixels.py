"""Downsampled pixels + PCA: no model, no download; for tests and as the last resort."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from fastlabel.embeddings.base import Progress, l2_normalise, refuse_text

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource


def tiny_pixels(image: Image.Image, side: int) -> np.ndarray:
    """Image -> flat float32 vector of a side x side RGB thumbnail in [0, 1] (area-averaged)."""
    small = image.convert("RGB").resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32).reshape(-1) / 255.0


def standardise(features: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per column; constant columns become zero."""
    std = features.std(axis=0)
    return (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0)


def project(features: np.ndarray, dims: int, seed: int) -> np.ndarray:
    """PCA to at most `dims` components (capped by N-1 and the feature count)."""
    n_components = min(dims, features.shape[0] - 1, features.shape[1])
    if n_components < 1:
        return features
    from sklearn.decomposition import PCA  # imported on use: sklearn is slow to import

    return PCA(n_components=n_components, random_state=seed).fit_transform(features)


class PixelEncoder:
    """side x side pixels, standardised, PCA to `dims`, unit length. The width may be below `dims` for tiny sources."""

    media = "image"
    has_text = False
    logit_scale = 1.0
    incremental = False  # rows share one PCA fit

    def __init__(self, side: int = 16, dims: int = 128, seed: int = 0, batch_size: int = 256) -> None:
        self.side = side
        self.dims = dims
        self.seed = seed
        self.batch_size = batch_size
        self.id = f"pixels:{side}:pca{dims}:seed{seed}"

    def encode_images(self, source: ImageSource, progress: Progress | None = None) -> np.ndarray:
        total = len(source)
        raw = np.empty((total, self.side * self.side * 3), dtype=np.float32)
        for start in range(0, total, self.batch_size):
            stop = min(start + self.batch_size, total)
            for item_id in range(start, stop):
                raw[item_id] = tiny_pixels(source.image(item_id), self.side)
            if progress is not None:
                progress(stop, total)
        if total < 2:  # nothing to standardise against
            return l2_normalise(raw)
        return l2_normalise(project(standardise(raw), self.dims, self.seed))

    def encode_text(self, text: str) -> np.ndarray:
        raise refuse_text(self.id)
