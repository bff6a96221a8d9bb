"""Which labels train the head, and the trainer that refits it and publishes new probabilities."""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..events import SessionState
from ..learner.head import FOREGROUND, HeadConfig, Learner, MLPHead, probs_of
from ..learner.zeroshot import blend
from ..threshold import THRESHOLD
from .estimates import QualityEstimates, quality_estimates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainPoint:
    """One retrain: the learning trend's point, the submit response's figures."""

    seq: int  # the model_trained event
    labeled: int
    positive: int
    train_ms: float | None  # None: no head (fewer than two classes among the training labels)
    flip_rate: float | None
    # the audit estimates right after this retrain: measured once, for the panel, the push and the
    # model versions list (not in to_dict)
    quality: QualityEstimates | None = field(default=None, compare=False, repr=False)

    @property
    def estimates(self) -> dict[str, Any] | None:
        return self.quality.to_dict() if self.quality is not None else None

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


class PendingScores:
    """The newest head's probabilities while its pass over a large pool is still running: any rows
    asked for are scored on the spot (O(rows), exact), so choosing a page never waits for the pool."""

    def __init__(self, model: MLPHead, x: torch.Tensor, prior: np.ndarray | None, n_labeled: int,
                 chunk: int) -> None:
        self.model, self.x, self.prior, self.n_labeled, self.chunk = model, x, prior, n_labeled, chunk
        self._all: np.ndarray | None = None  # the whole pool's head scores, once some caller needed them

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, ids: Any) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        if self._all is None and ids.size * 4 > len(self):  # most of the pool: one pass in order beats a gather
            self.score_all(lambda: True)
        if self._all is not None:
            head = self._all[ids]
        else:
            index = torch.as_tensor(ids, device=self.x.device)
            parts = [probs_of(self.model, self.x[index[i: i + self.chunk]], self.chunk)  # gathered chunk by chunk
                     for i in range(0, ids.size, self.chunk)]
            head = np.concatenate(parts) if parts else np.empty(0, np.float32)
        prior = None if self.prior is None else self.prior[ids]
        return blend(prior, head, self.n_labeled, ids.size)

    def score_all(self, still_wanted: Callable[[], bool]) -> np.ndarray | None:
        """The head's probabilities for the whole pool, chunk by chunk (kept: a second call is free);
        None once no longer wanted."""
        if self._all is not None:
            return self._all
        out = []
        for start in range(0, len(self), self.chunk):
            if not still_wanted():
                return None
            out.append(probs_of(self.model, self.x[start: start + self.chunk], self.chunk))
        self._all = np.concatenate(out) if out else np.empty(0, np.float32)
        return self._all


Done = Callable[[TrainPoint, np.ndarray], None]  # a measured retrain and the probabilities it published


class Trainer:
    """Owns the head: refits it from a state snapshot and publishes blended probabilities.

    On a large pool (more than `HeadConfig.background_above` numbers) scoring every item would
    dominate a round (1.6 s for 1M x 512 on one CPU core), so the retrain returns as soon as the
    head is fitted: strategies rank with `ranking()` (exact scores of the rows they look at), and a
    background pass scores the whole pool, publishes it and only then measures flips and
    estimates and tells `done`. A newer retrain supersedes a pass still running.
    """

    def __init__(self, embeddings: np.ndarray, config: HeadConfig | None = None,
                 device: torch.device | None = None, *, lock: threading.RLock | None = None,
                 available: np.ndarray | None = None) -> None:
        """`lock`: the head's lock, held by whoever retrains and taken here to swap the scores (so a
        session's retrain and its publish share one lock); `available`: the items the estimates cover."""
        self.learner = Learner(embeddings, config, device)
        n = int(embeddings.shape[0])
        self.available = available
        self.scores = Scores(None, None, np.full(n, 0.5, np.float32))
        self.pending: PendingScores | None = None
        self.background = n * self.learner.dim > self.learner.config.background_above
        self._pass: Future | None = None
        # one long-lived thread for every pass (a thread per pass gave each its own malloc arena)
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastlabel-scores") \
            if self.background else None
        self.lock = lock if lock is not None else threading.RLock()

    @property
    def n_items(self) -> int:
        return int(self.scores.probs.shape[0])

    @property
    def has_head(self) -> bool:
        return self.pending is not None or self.scores.head is not None

    @property
    def cold(self) -> bool:
        """Neither a head (scored or pending) nor a text prior: there is no model's guess."""
        return not self.has_head and self.scores.prior is None

    def ranking(self) -> np.ndarray | PendingScores:
        """What strategies rank by: the newest head's probabilities, by id."""
        pending = self.pending
        return pending if pending is not None else self.scores.probs

    def settle(self) -> None:
        """Wait until the newest retrain's probabilities are published for the whole pool."""
        while (running := self._pass) is not None and not running.done():
            running.result()

    def set_prior(self, prior: np.ndarray | None, n_labeled: int) -> None:
        """Blend a new text prior with the newest head (scoring a pass still running here, not waiting for it)."""
        with self.lock:
            pending = self.pending
            head = self.scores.head if pending is None else pending.score_all(lambda: True)
            self._publish(prior=prior, head=head, n_labeled=n_labeled)

    def retrain(self, seq: int, state: SessionState, done: Done | None = None, *, foreground: bool = True) -> TrainPoint:
        """Refit on the training set of `state` (or drop the head when it cannot learn). `done`
        hears the measured point once the whole pool is scored: before this returns, or from the
        background pass on a large pool (then this returns a point without flips and estimates).
        `foreground`: a person waits on this fit (FOREGROUND: work that can wait pauses meanwhile)."""
        ids, ys = training_set(state)
        train_ms = None
        if can_learn(ys):
            with FOREGROUND.running() if foreground else nullcontext():
                report = self.learner.fit(ids, ys, training_seed(state.seed, seq))
                head = None if self.background else self.learner.predict()
            train_ms = round(report.train_ms, 2)
            if self.background:
                return self._score_in_background(seq, state, train_ms, done)
        else:
            self.learner.reset()
            head = None
        before, after = self._publish(prior=self.scores.prior, head=head, n_labeled=len(state.labels))
        point = measured(seq, state, train_ms, before, after, head is not None, self.available)
        if done is not None:
            done(point, after)
        return point

    def _score_in_background(self, seq: int, state: SessionState, train_ms: float, done: Done | None) -> TrainPoint:
        learner = self.learner
        pending = PendingScores(learner.frozen(), learner.x, self.scores.prior, len(state.labels),
                                learner.config.score_chunk)
        with self.lock:
            self.pending = pending

        def finish() -> None:
            try:
                head = pending.score_all(lambda: self.pending is pending)
                published = None if head is None else self._publish(
                    prior=pending.prior, head=head, n_labeled=pending.n_labeled, superseding=pending)
                if published is None:
                    return  # a newer retrain took over
                point = measured(seq, state, train_ms, *published, True, self.available)
                if done is not None:
                    done(point, published[1])
            except Exception:
                log.exception("scoring the pool after retrain %d failed", seq)

        assert self._worker is not None
        self._pass = self._worker.submit(finish)
        return TrainPoint(seq, len(state.labels), state.n_positive, train_ms, None)

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

    def _publish(self, *, prior: np.ndarray | None, head: np.ndarray | None, n_labeled: int,
                 superseding: PendingScores | None = None) -> tuple[np.ndarray, np.ndarray] | None:
        """One assignment, so readers never see a half update; returns (old, new) probabilities.
        It supersedes any background pass still running. A background pass publishes its own
        scores with `superseding=` itself: only while it is still the newest (else None, and only then).
        The blend is computed before the lock is taken: only the check and the swap hold it."""
        new = Scores(prior, head, blend(prior, head, n_labeled, self.n_items))
        with self.lock:
            if superseding is not None and self.pending is not superseding:
                return None
            old = self.scores
            self.scores = new
            self.pending = None
            return old.probs, new.probs

    def score(self, embeddings: np.ndarray, prior: np.ndarray | None, n_labeled: int) -> np.ndarray:
        """P(positive) for items outside the pool, blended with their own text prior as the pool's are."""
        x = np.asarray(embeddings, dtype=np.float32)
        head = self.learner.score(x) if self.has_head else None
        return blend(prior, head, n_labeled, len(x))


def measured(seq: int, state: SessionState, train_ms: float | None, before: np.ndarray, after: np.ndarray,
             has_head: bool, available: np.ndarray | None = None) -> TrainPoint:
    """A retrain's point once the whole pool is scored: the share of predictions that flipped, and
    the audit estimates over the `available` items (with a head; the one place they are computed per retrain)."""
    flips = float(np.mean((after >= THRESHOLD) != (before >= THRESHOLD))) if after.size else 0.0
    quality = quality_estimates(state, after, available=available) if has_head else None
    return TrainPoint(seq, len(state.labels), state.n_positive, train_ms, round(flips, 5), quality)
