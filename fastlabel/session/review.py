"""Suspected label errors, pure: out-of-fold predictions on the labeled set, ranked by how far they
are from the human label.

K small heads are each trained on the other K - 1 folds of the labeled items (folds stratified by
label) and score the fold they never saw. A label the rest of the labels cannot explain gets an
out-of-fold probability far from it: those cards come first on a review page.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np

from ..events import SessionState
from ..learner.head import FOREGROUND, HeadConfig, Learner
from ..learner.registry import REVIEW
from .training import training_seed

DEFAULT_FOLDS = 5
TOO_FEW = "Label at least two positives and two negatives before reviewing labels."
ALL_REVIEWED = "Every labeled item has been on a review page already."


@dataclass(frozen=True)
class ReviewPage:
    ids: np.ndarray  # most suspicious first
    labels: np.ndarray  # the human labels of those ids
    probs: np.ndarray  # their out-of-fold P(positive)
    candidates: int  # labeled items not yet reviewed
    message: str | None = None


def stratified_folds(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """A fold number per row: each class shuffled and dealt round-robin, so every fold gets both classes."""
    folds = np.empty(labels.size, dtype=np.int64)
    for cls in (0, 1):
        rows = rng.permutation(np.flatnonzero(labels == cls))
        folds[rows] = np.arange(rows.size) % k
    return folds


def out_of_fold_probs(embeddings: np.ndarray, ids: np.ndarray, labels: np.ndarray, *, folds: int = DEFAULT_FOLDS,
                      seed: int = 0, config: HeadConfig | None = None) -> np.ndarray:
    """P(positive) of every (id, label) from a head that did not train on it. Needs two of each class;
    uses fewer folds when a class has fewer than `folds` members. The fold heads give way to retrains
    a person waits on (FOREGROUND), so a review page never slows a submit down."""
    labels = np.asarray(labels, dtype=np.int64)
    smallest = min(int(labels.sum()), int(labels.size - labels.sum()))
    if smallest < 2:
        raise ValueError("out-of-fold predictions need at least two items of each class")
    k = max(2, min(folds, smallest))
    fold = stratified_folds(labels, k, np.random.default_rng([seed, labels.size]))
    learner = Learner(embeddings, config)
    out = np.empty(labels.size, dtype=np.float32)
    for f in range(k):
        held = fold == f
        learner.reset()  # a fresh head per fold: nothing leaks from the rows it scores
        learner.fit(ids[~held], labels[~held], training_seed(seed, f), between_steps=FOREGROUND.wait_idle)
        out[held] = learner.predict(ids[held])
    return out


def reviewed_ids(state: SessionState) -> set[int]:
    """Items already shown on a review page."""
    return {i for b in state.batches if b.strategy == REVIEW for i in b.ids}


def own_labels(state: SessionState, labeler: str) -> SessionState:
    """The state as `labeler` reviews it: their own labels and their own review pages (alone on a
    concept, the state itself)."""
    if all(len(by) == 1 and labeler in by for by in state.votes.values()):
        return state
    mine = {i: by[labeler][0] for i, by in state.votes.items() if labeler in by}
    return replace(state, labels=MappingProxyType(mine), batches=tuple(b for b in state.batches if b.labeler == labeler))


def still_valid(page: ReviewPage, seen: SessionState, now: SessionState) -> np.ndarray:
    """Which cards of a page computed on the labels of `seen` may still be served at `now`: their
    label is unchanged and no review page has shown them since (a mask over `page.ids`)."""
    if now.labels is seen.labels and len(now.batches) == len(seen.batches):
        return np.ones(page.ids.size, dtype=bool)
    shown = reviewed_ids(now) - reviewed_ids(seen)
    return np.asarray([now.labels.get(int(i)) == int(y) and int(i) not in shown
                       for i, y in zip(page.ids, page.labels)], dtype=bool)


def review_page(state: SessionState, embeddings: np.ndarray, size: int, *, folds: int = DEFAULT_FOLDS,
                config: HeadConfig | None = None) -> ReviewPage:
    """The `size` labeled items (not reviewed before) whose out-of-fold prediction disagrees most with their label.

    Every labeled item trains the fold heads (reviewed ones too); only unreviewed ones are candidates."""
    items = sorted(state.labels)
    ids = np.asarray(items, dtype=np.int64)
    ys = np.asarray([state.labels[i] for i in items], dtype=np.int64)
    empty = np.zeros(0, np.int64)
    if min(int(ys.sum()), int(ys.size - ys.sum())) < 2:
        return ReviewPage(empty, empty, np.zeros(0, np.float32), 0, TOO_FEW)
    seen = reviewed_ids(state)
    open_ = np.asarray([i not in seen for i in items], dtype=bool)
    if not open_.any():
        return ReviewPage(empty, empty, np.zeros(0, np.float32), 0, ALL_REVIEWED)
    probs = out_of_fold_probs(embeddings, ids, ys, folds=folds, seed=state.seed + state.last_seq, config=config)
    disagreement = np.abs(ys - probs)
    rows = np.flatnonzero(open_)
    order = rows[np.lexsort((ids[rows], -disagreement[rows]))][:size]  # ties: lower id first
    return ReviewPage(ids[order], ys[order], probs[order], int(rows.size))
