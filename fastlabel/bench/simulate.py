"""A simulated labeler driving the app's own loop: `LabelingSession.next_batch` picks a page,
the attribute column answers it, `submit` retrains; after every page the head is scored on the
held-out split and the effort model counts the clicks the page would have cost."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Sequence

import numpy as np

from ..learner.head import HeadConfig, Learner
from ..learner.index import EmbeddingIndex
from ..learner.registry import get_strategy, simulated
from ..session import LabelingSession, TextEncoder
from ..session.training import training_seed
from .clicks import page_flips
from .metrics import held_out_scores

Progress = Callable[[str], None]  # one line per finished run
ZERO_SHOT = "zeroshot"  # a text query, then verify-positive pages
HYBRID = "hybrid"


@dataclass
class Task:
    """One attribute on one train/test split; `index` (the clustering and neighbour index of
    `train_x`) is fitted once and shared by every run on this split."""

    attribute: str
    seed: int
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    index: EmbeddingIndex | None = None

    def fitted_index(self) -> EmbeddingIndex:
        """Fitted before the first page, so no run ever sees the not-ready fallback (comparisons stay fair)."""
        if self.index is None:
            self.index = EmbeddingIndex(self.train_x)
            self.index.wait()
        return self.index


@dataclass(frozen=True)
class Run:
    """What a benchmark row runs: a registry strategy, optionally after a zero-shot text query."""

    name: str
    strategy: str
    query: str | None = None


@dataclass(frozen=True)
class Point:
    """The state after one submitted page (or before the first, at 0 labels)."""

    attribute: str
    strategy: str
    seed: int
    labels: int
    clicks: int
    positives: int
    auc: float
    bal_acc: float
    ap: float


POINT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Point))

_QUERIES = {
    "Smiling": "a photo of a smiling person",
    "Male": "a photo of a man",
    "Eyeglasses": "a photo of a person wearing eyeglasses",
    "Wearing_Hat": "a photo of a person wearing a hat",
    "Young": "a photo of a young person",
    "Blond_Hair": "a photo of a person with blond hair",
}


def attribute_query(attribute: str) -> str:
    """The zero-shot text a user would type for an attribute column."""
    return _QUERIES.get(attribute, f"a photo of a person: {attribute.replace('_', ' ').lower()}")


def benchable_strategies(spec: str) -> list[str]:
    """'all' or 'a,b,c' -> catalog names (exemplar search excluded from 'all'); unknown names raise."""
    if spec.strip() == "all":
        return simulated()
    names = [n.strip() for n in spec.split(",") if n.strip()]
    for name in names:
        if name != ZERO_SHOT:
            get_strategy(name)
    return names


def plan_runs(strategies: Sequence[str], attribute: str, has_text: bool,
              query: str | None = None) -> tuple[list[Run], list[str]]:
    """The rows to run, and notes on what was skipped. Zero-shot rows need an encoder with text (or
    classes); their query is `query`, else one made from the attribute's name."""
    runs = [Run(s, s) for s in strategies if s != ZERO_SHOT]
    notes: list[str] = []
    if has_text:
        query = query or attribute_query(attribute)
        runs.append(Run(ZERO_SHOT, "verify_positives", query))
        if HYBRID in strategies:
            runs.append(Run(f"{HYBRID}+text", HYBRID, query))
    else:
        notes.append("zero-shot runs skipped: this encoder has no text side (CLIP weights are needed)")
    return runs, notes


def measure(session: LabelingSession, task: Task, name: str, clicks: int) -> Point:
    scores = held_out_scores(task.test_y, session.score(task.test_x))
    return Point(task.attribute, name, task.seed, len(session.state.labels), clicks, session.state.n_positive,
                 scores.auc, scores.bal_acc, scores.ap)


def simulate(task: Task, run: Run, budget: int, batch_size: int, *, text_encoder: TextEncoder | None = None,
             head_config: HeadConfig | None = None, stop: Callable[[list[Point]], bool] | None = None) -> list[Point]:
    """Label pages until `budget` labels (the last page shrinks to fit) or until `stop(points)`;
    one Point per page, plus the start."""
    session = LabelingSession(task.train_x, text_encoder=text_encoder, head_config=head_config, seed=task.seed,
                              index=task.fitted_index())
    if run.query is not None:
        session.set_query(run.query)
    clicks = 0
    points = [measure(session, task, run.name, clicks)]
    while (labeled := len(session.state.labels)) < budget:
        batch = session.next_batch(run.strategy, min(batch_size, budget - labeled))
        if batch.exhausted or not batch.ids:
            break
        truth = task.train_y[batch.ids].astype(int).tolist()
        wrong = page_flips(batch, truth)  # the page's own start labels: grid.js renders the same
        session.submit(tuple(zip(batch.ids, truth)), batch_id=batch.batch_id, clicks=wrong)
        clicks += wrong + 1
        points.append(measure(session, task, run.name, clicks))
        if stop is not None and stop(points):
            break
    return points


def reference_auc(task: Task, head_config: HeadConfig | None = None) -> float:
    """Test AUC of the same head trained from scratch on every item of the training split."""
    learner = Learner(task.train_x, head_config)
    learner.fit(np.arange(len(task.train_y)), np.asarray(task.train_y, np.int64), training_seed(task.seed, 0))
    return held_out_scores(task.test_y, learner.score(task.test_x)).auc


def run_task(task: Task, runs: Sequence[Run], budget: int, batch_size: int, *,
             text_encoder: TextEncoder | None = None, progress: Progress | None = None) -> list[Point]:
    points: list[Point] = []
    for run in runs:
        points += simulate(task, run, budget, batch_size, text_encoder=text_encoder)
        if progress:
            last = points[-1]
            progress(f"{task.attribute} seed {task.seed} {run.name}: {last.labels} labels, {last.clicks} clicks, "
                     f"AUC {last.auc:.3f}")
    return points
