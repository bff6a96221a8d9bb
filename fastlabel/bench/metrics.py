"""Held-out quality of a head's scores: ROC-AUC, balanced accuracy at 0.5, average precision."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import average_precision_score, balanced_accuracy_score, roc_auc_score


@dataclass(frozen=True)
class HeldOutScores:
    auc: float
    bal_acc: float
    ap: float


def held_out_scores(truth: np.ndarray, probs: np.ndarray) -> HeldOutScores:
    """Scores of `probs` against 0/1 `truth`; a one-class test set scores as chance."""
    truth = np.asarray(truth).astype(np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    if truth.min() == truth.max():
        return HeldOutScores(0.5, 0.5, float(truth.mean()))
    return HeldOutScores(
        auc=float(roc_auc_score(truth, probs)),
        bal_acc=float(balanced_accuracy_score(truth, probs >= 0.5)),
        ap=float(average_precision_score(truth, probs)),
    )

