"""Replay a recorded session's budget with other strategies: "would k-means have been faster for me?".

The recorded session sets the budget (labels in effect) and the page size. Each strategy then
labels a training split with the simulated labeler, and the recording itself is replayed on
the same split (its pages, your labels, the probabilities you were shown), so all rows are
scored on the same held-out items.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np

from ..events import Event, SessionState, fold
from ..learner.registry import CATALOG
from ..session import LabelingSession
from ..session.pages import page_prelabel, start_labels
from .clicks import wrong_cards
from .report import headline_text, headline, markdown_table, summarise
from .runner import label_marks, make_task
from .simulate import Point, Run, Task, measure, reference_auc, simulate
from .split import holdout_split

RECORDED = "recorded"


def recorded_budget(state: SessionState) -> tuple[int, int]:
    """(labels in effect, the page size served most often) of a recorded session."""
    sizes = Counter(len(b.ids) for b in state.batches)
    batch_size = sizes.most_common(1)[0][0] if sizes else max((len(s.labels) for s in state.submissions), default=1)
    return len(state.labels), max(1, batch_size)


def recorded_starts(page) -> dict[int, int]:
    """The label each card of a recorded page starts with, by the page's rule (pages.start_labels);
    a page whose every score is 0.5 was served with no model (cold)."""
    cold = bool(page.probs) and all(p == 0.5 for p in page.probs)
    known = CATALOG.get(page.strategy)
    prelabel = page_prelabel(known.prelabel if known is not None else None, cold)
    return dict(zip(page.ids, start_labels(page.ids, page.probs, page.audit, prelabel, cold)))


def replay_recording(task: Task, state: SessionState, train_ids: np.ndarray) -> list[Point]:
    """The recorded pages in order, restricted to the training split, with the recorded labels."""
    position = {int(item): k for k, item in enumerate(train_ids)}
    session = LabelingSession(task.train_x, seed=task.seed)
    clicks = 0
    points = [measure(session, task, RECORDED, clicks)]
    for sub in state.submissions:
        page = state.batch(sub.batch_id) if sub.batch_id is not None else None
        shown = recorded_starts(page) if page is not None else {}
        given = [(item, y) for item, y in sub.labels if item in position]
        if not given:
            continue
        clicks += wrong_cards([shown.get(i, 0) for i, _ in given], [y for _, y in given]) + 1
        session.submit(tuple((position[i], y) for i, y in given))
        points.append(measure(session, task, RECORDED, clicks))
    return points


def compare_with_recording(events: Sequence[Event], embeddings: np.ndarray, truth: np.ndarray, attribute: str,
                           strategies: Sequence[str], *, identities: np.ndarray | None = None, seeds: int = 3,
                           test_fraction: float = 0.2) -> str:
    """A markdown report: the recorded session against each strategy at the recorded budget."""
    state = fold(events)
    budget, batch_size = recorded_budget(state)
    if budget == 0:
        return "The recorded session has no labels in effect: nothing to compare."
    points: list[Point] = []
    references: dict[tuple[str, int], float] = {}
    positives: dict[tuple[str, int], int] = {}
    for seed in range(seeds):
        split = holdout_split(len(embeddings), identities, test_fraction, seed)
        task = make_task(embeddings, truth, split.train, split.test, attribute, seed)
        references[(attribute, seed)] = reference_auc(task)
        positives[(attribute, seed)] = int(task.train_y.sum())
        points += replay_recording(task, state, split.train)
        for name in strategies:
            points += simulate(task, Run(name, name), budget, batch_size)
    marks = label_marks(budget, batch_size)
    rows = summarise(points, references, marks, positives, budget)[attribute]
    return "\n".join([
        f"Recorded session: {budget} labels in pages of {batch_size}. Each strategy labels the same budget "
        f"from {attribute}; '{RECORDED}' replays your own pages. Test split: {test_fraction:.0%} held out "
        f"({'by identity' if identities is not None else 'at random'}), {seeds} seeds, mean ± std.",
        "", markdown_table(rows, marks), "", headline_text(attribute, headline(rows)),
    ])
