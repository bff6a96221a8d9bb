"""The benchmark over seeds x attributes x strategies: same split per seed for every row, so rows
are compared on the same people."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..learner.head import use_threads
from ..learner.index import EmbeddingIndex
from ..session import TextEncoder
from .report import write_summary
from .simulate import Point, Progress, Task, plan_runs, reference_auc, run_task
from .split import holdout_split


@dataclass(frozen=True)
class BenchSpec:
    attributes: tuple[str, ...]
    strategies: tuple[str, ...]
    budget: int = 600
    batch_size: int = 48
    seeds: int = 5
    test_fraction: float = 0.2
    query: str | None = None  # the zero-shot rows' query (a text, or a class name); None: from the attribute


@dataclass
class BenchResult:
    points: list[Point] = field(default_factory=list)
    references: dict[tuple[str, int], float] = field(default_factory=dict)
    positives: dict[tuple[str, int], int] = field(default_factory=dict)  # positives in each pool
    notes: list[str] = field(default_factory=list)


def label_marks(budget: int, batch_size: int) -> list[int]:
    """Label counts the table reports AUC at: 2, 4 and 8 pages, those under the budget (final AUC has a column)."""
    return [m for m in (2 * batch_size, 4 * batch_size, 8 * batch_size) if m < budget] or [budget]


def make_task(embeddings: np.ndarray, truth: np.ndarray, train: np.ndarray, test: np.ndarray,
              attribute: str, seed: int, index: EmbeddingIndex | None = None) -> Task:
    x = np.asarray(embeddings, dtype=np.float32)
    return Task(attribute, seed, x[train], truth[train], x[test], truth[test], index)


def run_benchmark(embeddings: np.ndarray, columns: dict[str, np.ndarray], identities: np.ndarray | None,
                  spec: BenchSpec, *, text_encoder: TextEncoder | None = None,
                  progress: Progress | None = None) -> BenchResult:
    """Every strategy on every attribute for seeds 0..seeds-1; seed s fixes the split and the session seed."""
    result = BenchResult()
    use_threads()
    has_text = bool(text_encoder is not None and text_encoder.has_text)
    for seed in range(spec.seeds):
        split = holdout_split(len(embeddings), identities, spec.test_fraction, seed)
        index = None  # the clustering and neighbour index of this split's pool, fitted once
        for attribute in spec.attributes:
            task = make_task(embeddings, columns[attribute], split.train, split.test, attribute, seed, index)
            index = task.fitted_index()
            result.references[(attribute, seed)] = reference_auc(task)
            result.positives[(attribute, seed)] = int(task.train_y.sum())
            runs, notes = plan_runs(spec.strategies, attribute, has_text, spec.query)
            result.notes += [n for n in notes if n not in result.notes]
            result.points += run_task(task, runs, spec.budget, spec.batch_size,
                                      text_encoder=text_encoder if has_text else None, progress=progress)
    return result


def write_bench(result: BenchResult, spec: BenchSpec, out: Path, meta: dict[str, Any],
                plots: bool = True) -> str:
    """points.csv, summary.json, summary.md and the two plots; returns summary.md's text."""
    marks = label_marks(spec.budget, spec.batch_size)
    header = [f"# Labeling benchmark: {', '.join(spec.attributes)}", "",
              f"Data: {meta.get('data', '-')}; encoder: {meta.get('encoder', '-')}; "
              f"split: {meta.get('split', '-')}; budget {spec.budget} labels in pages of {spec.batch_size}; "
              f"{spec.seeds} seeds (mean ± std). Clicks: one per wrongly pre-labeled card plus one submit per page; "
              "targets are fractions of the test AUC of the same head trained on the whole training split."]
    meta = {**meta, "spec": {**spec.__dict__, "attributes": list(spec.attributes),
                             "strategies": list(spec.strategies)}}
    write_summary(out, result.points, result.references, result.positives, spec.budget, marks, meta, header,
                  result.notes)
    if plots:
        from .plots import write_plots

        write_plots(result.points, out)
    return (out / "summary.md").read_text()

