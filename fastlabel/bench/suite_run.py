"""Run a suite part: every task x seed x strategy through the app's own loop, stopping a run once
every target its budget allows is met (the rest of the budget would not change the tables).
Random stops at the AUC targets: its find-the-positives figures are the expectation of uniform
sampling (`goals.expected_random_find`), exact in labels, so running it on would measure nothing new.

The split, its clustering and the full-data reference are computed once per (data, seed) and
shared by every task and strategy on it, so strategies are compared on the same people.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Config
from ..data import read_identities
from ..errors import InvalidInput
from ..workspace import open_pool
from . import goals
from .report import write_points_csv
from .runner import make_task
from .simulate import Point, Run, reference_auc, simulate
from .split import holdout_split
from .suite import CELEBA, DEMO, Suite, TaskDef

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SuiteData:
    """One data set, embedded: what its tasks read."""

    name: str
    embeddings: np.ndarray
    columns: dict[str, np.ndarray]
    identities: np.ndarray | None
    encoder: str


def open_suite_data(name: str, base: Config, data_root: Path) -> SuiteData:
    """celeba10k from `data_root` (split by identity), or the generated demo faces (split at random)."""
    if name == CELEBA:
        folder = data_root / CELEBA
        if not (folder / "sprite.jpg").exists():
            raise InvalidInput(f"no {CELEBA} data under {data_root} (pass --data-root)")
        config = replace(base, sprite=folder / "sprite.jpg", grid="100x100", tile=48,
                         attributes=folder / "attributes.csv", images=None)
        people_csv: Path | None = folder / "identities.csv"
    elif name == DEMO:
        config, people_csv = replace(base, sprite=None, grid=None, images=None, attributes=None), None
    else:
        raise InvalidInput(f"unknown data set {name!r}")
    pool = open_pool(config)
    if pool.attributes is None:
        raise InvalidInput(f"{name}: no attribute CSV to answer from")
    n = int(pool.embeddings.shape[0])
    columns = {a: pool.attributes.column(a).astype(np.int64) for a in pool.attributes.names}
    people = read_identities(people_csv, n) if people_csv else None
    return SuiteData(name, np.asarray(pool.embeddings, dtype=np.float32), columns, people, pool.encoder.id)


@dataclass
class TaskSeed:
    """What the figures of one (task, seed) are measured against."""

    reference_auc: float
    pool_positives: int
    pool_size: int
    budget: int


@dataclass
class SuiteResult:
    suite: Suite
    part: str
    points: list[Point] = field(default_factory=list)
    facts: dict[tuple[str, int], TaskSeed] = field(default_factory=dict)
    encoders: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def tasks(self) -> list[TaskDef]:
        names = {task for task, _ in self.facts}
        return [t for t in self.suite.tasks if t.name in names]


def run_part(suite: Suite, part: str, data: dict[str, SuiteData], progress: Progress | None = None,
             out: Path | None = None) -> SuiteResult:
    """Every task of the part on each of its seeds, seed by seed, saving under `out` after each
    seed (a stopped run keeps its finished seeds). One thread for the clustering: on a busy CPU,
    BLAS/OpenMP threads that spin-wait for each other made the clustering ten times slower."""
    from threadpoolctl import threadpool_limits

    tasks, seeds = suite.part(part)
    result = SuiteResult(suite, part, encoders={name: d.encoder for name, d in data.items()})
    started = time.perf_counter()
    with threadpool_limits(limits=1):
        for seed in seeds:
            for name, d in data.items():
                run_seed(result, [t for t in tasks if t.data == name], d, seed, progress,
                         saved=lambda: save_result(replace(result, seconds=time.perf_counter() - started), out)
                         if out is not None else None)
            result.seconds = time.perf_counter() - started
            if out is not None:
                save_result(result, out)
    return result


def run_seed(result: SuiteResult, tasks: list[TaskDef], d: SuiteData, seed: int, progress: Progress | None,
             saved: Callable[[], None] | None = None) -> None:
    """One split of one data set: its index and reference fitted once, then every task x strategy
    (`saved` is called after each task, so a stopped run keeps its finished tasks)."""
    suite = result.suite
    split = holdout_split(len(d.embeddings), d.identities, suite.test_fraction, seed)
    index = None  # the clustering and neighbour index of this split's pool, shared by its tasks
    for t in tasks:
        task = make_task(d.embeddings, d.columns[t.attribute], split.train, split.test, t.name, seed, index)
        index = task.fitted_index()
        budget = min(t.budget, len(split.train))
        facts = TaskSeed(reference_auc(task), int(task.train_y.sum()), len(split.train), budget)
        result.facts[(t.name, seed)] = facts
        for strategy in suite.strategies:
            find, train = suite.stops(strategy)
            stop = partial(goals.done, reference_auc=facts.reference_auc, pool_positives=facts.pool_positives,
                           budget=facts.budget, find=find, train=train)
            t0 = time.perf_counter()
            points = simulate(task, Run(strategy, strategy), budget, suite.batch_size, stop=stop)
            result.points += points
            if progress:
                last = points[-1]
                progress(f"{t.name} seed {seed} {strategy}: {last.labels} labels, {last.positives}/"
                         f"{facts.pool_positives} positives, AUC {last.auc:.3f} / {facts.reference_auc:.3f} "
                         f"({time.perf_counter() - t0:.1f} s)")
        if saved is not None:
            saved()


def save_result(result: SuiteResult, out: Path) -> None:
    """points.csv and facts.json: enough to rebuild every table and plot without rerunning."""
    out.mkdir(parents=True, exist_ok=True)
    write_points_csv(result.points, out / "points.csv")
    body = {"suite": result.suite.name, "part": result.part, "encoders": result.encoders,
            "batch_size": result.suite.batch_size, "strategies": list(result.suite.strategies),
            "find_goal": result.suite.find_goal, "find_strategies": list(result.suite.find_strategies),
            "run_seconds": round(result.seconds, 1),
            "facts": [{"task": task, "seed": seed, **facts.__dict__} for (task, seed), facts in result.facts.items()]}
    (out / "facts.json").write_text(json.dumps(body, indent=2) + "\n")


def load_result(suite: Suite, folder: Path) -> SuiteResult:
    """A saved part (points.csv + facts.json) back in memory, to rewrite its tables and plots."""
    import csv

    body = json.loads((folder / "facts.json").read_text())
    suite = replace(suite, strategies=tuple(body["strategies"]), batch_size=int(body["batch_size"]),
                    find_goal=bool(body.get("find_goal", True)),
                    find_strategies=tuple(body.get("find_strategies", ())))
    result = SuiteResult(suite, body["part"], encoders=body["encoders"], seconds=float(body["run_seconds"]))
    for row in body["facts"]:
        result.facts[(row["task"], int(row["seed"]))] = TaskSeed(
            float(row["reference_auc"]), int(row["pool_positives"]), int(row["pool_size"]), int(row["budget"]))
    with open(folder / "points.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            result.points.append(Point(row["attribute"], row["strategy"], int(row["seed"]), int(row["labels"]),
                                       int(row["clicks"]), int(row["positives"]), float(row["auc"]),
                                       float(row["bal_acc"]), float(row["ap"])))
    return result


def load_results(suite: Suite, folders: list[Path]) -> SuiteResult:
    """Saved parts run separately (e.g. one `--tasks` each) as one result; facts and points are unioned."""
    if not folders:
        raise InvalidInput("no saved suite part to read (run the suite first, or check --out)")
    parts = [load_result(suite, f) for f in folders]
    first = parts[0]
    strategies = tuple(dict.fromkeys(s for r in parts for s in r.suite.strategies))
    tasks = {name for r in parts for name, _ in r.facts}
    merged = SuiteResult(replace(first.suite, strategies=strategies,
                                 tasks=tuple(t for t in suite.tasks if t.name in tasks)),
                         first.part, encoders={k: v for r in parts for k, v in r.encoders.items()},
                         seconds=sum(r.seconds for r in parts))
    for r in parts:
        merged.points += r.points
        merged.facts.update(r.facts)
    return merged
