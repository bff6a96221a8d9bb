"""The simulated labeler's clicks: every card starts with the label the page shows it with
(`Batch.starts`, from `fastlabel.session.pages.start_labels`, the rule grid.js renders), so a
click is a card whose start label is wrong, flipped, plus one click to submit the page."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..session import Batch
from ..threshold import THRESHOLD


def model_guess(shown_probs: Sequence[float]) -> list[int]:
    """The model's guess for each card, p >= threshold: what a card starts with when the page says nothing else."""
    return [int(p) for p in np.asarray(shown_probs, dtype=np.float64) >= THRESHOLD]


def shown_labels(batch: Batch) -> list[int]:
    """The label each card of a served page starts with, exactly as the page shows it."""
    if batch.starts is not None and len(batch.starts) == len(batch.ids):
        return list(batch.starts)
    return model_guess(batch.probs)


def wrong_cards(starts: Sequence[int], truth: Sequence[int]) -> int:
    """Cards whose start label disagrees with the answer: each costs one click."""
    return int(np.sum(np.asarray(starts, dtype=np.int64) != (np.asarray(truth) == 1)))


def page_flips(batch: Batch, truth: Sequence[int]) -> int:
    """Flips to make a served page right: its wrongly started cards."""
    return wrong_cards(shown_labels(batch), truth)


def page_clicks(starts: Sequence[int], truth: Sequence[int]) -> int:
    """Clicks to confirm one page: flip the wrong cards, then submit."""
    return wrong_cards(starts, truth) + 1


def first_reaching(values: Sequence[float], target: float) -> int | None:
    """Index of the first value >= target, or None when the run never gets there."""
    hits = np.flatnonzero(np.asarray(values, dtype=np.float64) >= target)
    return int(hits[0]) if hits.size else None


def safe_ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None
