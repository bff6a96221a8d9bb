"""The simulated labeler's clicks: the page pre-labels every card from its prediction, so a click
is a wrong prediction flipped, plus one click to submit the page."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..threshold import THRESHOLD


def wrong_cards(shown_probs: Sequence[float], truth: Sequence[int]) -> int:
    """Cards whose pre-label (prob >= 0.5) disagrees with the answer: each costs one click."""
    predicted = np.asarray(shown_probs, dtype=np.float64) >= THRESHOLD
    return int(np.sum(predicted != (np.asarray(truth) == 1)))


def page_clicks(shown_probs: Sequence[float], truth: Sequence[int]) -> int:
    """Clicks to confirm one page: flip the wrong cards, then submit."""
    return wrong_cards(shown_probs, truth) + 1


def first_reaching(values: Sequence[float], target: float) -> int | None:
    """Index of the first value >= target, or None when the run never gets there."""
    hits = np.flatnonzero(np.asarray(values, dtype=np.float64) >= target)
    return int(hits[0]) if hits.size else None


def safe_ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
