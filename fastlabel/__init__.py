"""FastLabel: binary image labeling with active learning on frozen embeddings."""

from __future__ import annotations

from typing import Any

from .version import __version__

__all__ = ["Classifier", "__version__", "open"]


def __getattr__(name: str) -> Any:
    """`from fastlabel import Classifier` and `fastlabel.open` import torch only when asked, so the CLI starts fast."""
    if name == "Classifier":
        from .model.classifier import Classifier

        return Classifier
    if name == "open":
        from .notebook import open

        return open
    raise AttributeError(f"module 'fastlabel' has no attribute {name!r}")
