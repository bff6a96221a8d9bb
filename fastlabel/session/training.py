"""Which labels train the head, and the trainer that refits it and publishes new probabilities."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..events import SessionState
from ..learner.head import HeadConfig, Learner, MLPHead
from ..learner.zeroshot import blend
from ..threshold import THRESHOLD
from .estimates import quality_estimates


@dataclass(frozen=True)
class TrainPoint:
    """One retrain: the learning trend's point, the submit response's figures."""

    seq: int  # the model_trained event
    labeled: int
    positive: int
    train_ms: float | None  # None: no head (fewer than two classes among the training labels)
    flip_rate: float | None
    # the audit estimates right after this retrain, for the model versions list (not in to_dict)
    estimates: dict[str, Any] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"labeled": self.labeled, "positive": self.positive, "train_ms": self.train_ms,
                "flip_rate": self.flip_rate, "seq": self.seq}


def training_set(state: SessionState) -> tuple[np.ndarray, np.ndarray]:
    """The labels the head learns from: every label in effect except audit cards, which stay
    held out so the estimates drawn from them remain unbiased."""
    train = {i: y for i, y in state.labels.items() if i not in state.audit_ids}
    ids = np.fromiter(train.keys(), dtype=np.int64, count=len(train))
    ys = np.fromiter(train.values(), dtype=np.int64, count=len(train))
    return ids, ys


def can_learn(ys: np.ndarray) -> bool:
    """A head needs both classes among its training labels."""
    return bool(ys.size) and 0 < int(ys.sum()) < ys.size


def training_seed(seed: int, seq: int) -> int:
    """The fit at event `seq` is seeded by the session seed and `seq`, so a replay refits identically."""
    return (seed * 1_000_003 + seq) % (2**31 - 1)


@dataclass(frozen=True)
class Scores:
    """The probabilities readers see, swapped in whole; prior and head are kept to re-blend."""

    prior: np.ndarray | None
    head: np.ndarray | None
    probs: np.ndarray


class Trainer:
    """Owns the head: refits it from a state snapshot and publishes blended probabilities."""

    def __init__(self, embeddings: np.ndarray, config: HeadConfig | None = None,
                 device: torch.device | None = None) -> None:
        self.learner = Learner(embeddings, config, device)
        n = int(embeddings.shape[0])
        self.scores = Scores(None, None, np.full(n, 0.5, np.float32))
        self._swap = threading.Lock()

    @property
    def n_items(self) -> int:
        return int(self.scores.probs.shape[0])

    def set_prior(self, prior: np.ndarray | None, n_labeled: int) -> None:
        self._publish(prior=prior, head=self.scores.head, n_labeled=n_labeled)

    def retrain(self, seq: int, state: SessionState) -> TrainPoint:
        """Refit on the training set of `state` (or drop the head when it cannot learn)."""
        ids, ys = training_set(state)
        train_ms = None
        if can_learn(ys):
            report = self.learner.fit(ids, ys, training_seed(state.seed, seq))
            head = self.learner.predict()
            train_ms = round(report.train_ms, 2)
        else:
            self.learner.reset()
            head = None
        before, after = self._publish(prior=self.scores.prior, head=head, n_labeled=len(state.labels))
        flips = float(np.mean((after >= THRESHOLD) != (before >= THRESHOLD))) if after.size else 0.0
        estimates = quality_estimates(state, after).to_dict() if head is not None else None
        return TrainPoint(seq, len(state.labels), state.n_positive, train_ms, round(flips, 5), estimates)

    def weights(self) -> dict[str, torch.Tensor]:
        """The head's weights (empty with no head), for a snapshot."""
        return self.learner.state_dict()

    def fits(self, weights: dict[str, torch.Tensor]) -> bool:
        """Whether saved weights (empty: no head) have this head's names and shapes."""
        if not weights:
            return True
        expected = MLPHead(self.learner.dim, self.learner.config.hidden).state_dict()
        return set(weights) == set(expected) and all(weights[k].shape == v.shape for k, v in expected.items())

    def restore(self, weights: dict[str, torch.Tensor], n_labeled: int) -> None:
        """Put back a head saved by `weights()` (it must `fit`) and publish its probabilities, as the
        retrain that made it did."""
        learner = self.learner
        head = None
        if not weights:
            learner.reset()
        else:
            model = MLPHead(learner.dim, learner.config.hidden).to(learner.device)
            model.load_state_dict({k: v.to(learner.device) for k, v in weights.items()}, strict=True)
            learner.head = model
            head = learner.predict()
        self._publish(prior=self.scores.prior, head=head, n_labeled=n_labeled)

    def _publish(self, *, prior: np.ndarray | None, head: np.ndarray | None,
                 n_labeled: int) -> tuple[np.ndarray, np.ndarray]:
        """One assignment, so readers never see a half update; returns (old, new) probabilities."""
        with self._swap:
            old = self.scores
            self.scores = Scores(prior, head, blend(prior, head, n_labeled, self.n_items))
            return old.probs, self.scores.probs

    def score(self, embeddings: np.ndarray, prior: np.ndarray | None, n_labeled: int) -> np.ndarray:
        """P(positive) for items outside the pool, blended with their own text prior as the pool's are."""
        x = np.asarray(embeddings, dtype=np.float32)
        head = self.learner.score(x) if self.scores.head is not None else None
        return blend(prior, head, n_labeled, len(x))
