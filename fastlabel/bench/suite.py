"""Benchmark suites: which tasks, strategies, seeds and budgets `fastlabel bench --suite NAME` runs.

A suite says up front which tasks and seeds tuned the strategies' settings and which are held
out for the report, so a reported figure never comes from data a setting was chosen on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

from ..errors import InvalidInput

CELEBA = "celeba10k"
DEMO = "demo"


@dataclass(frozen=True)
class TaskDef:
    """One attribute of one data set; `tuned` tasks were used to choose settings."""

    data: str  # celeba10k | demo
    attribute: str
    budget: int  # most labels a run may use
    tuned: bool = False

    @property
    def name(self) -> str:
        return f"{self.data}/{self.attribute}"


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: tuple[TaskDef, ...]
    strategies: tuple[str, ...]
    tune_seeds: tuple[int, ...]
    report_seeds: tuple[int, ...]
    batch_size: int = 48
    test_fraction: float = 0.2

    def part(self, which: str) -> tuple[tuple[TaskDef, ...], tuple[int, ...]]:
        """(tasks, seeds) of a part: `tune` runs the tuned tasks on the tuning seeds; `report`
        runs every task on the held-out seeds (tuned tasks are marked in the report)."""
        if which == "tune":
            return tuple(t for t in self.tasks if t.tuned), self.tune_seeds
        if which == "report":
            return self.tasks, self.report_seeds
        raise InvalidInput(f"unknown suite part {which!r}: tune or report")

    @property
    def data_sets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.data for t in self.tasks))


BASELINE = "random"
STRATEGIES = ("random", "kmeans", "borderline", "verify_positives", "hybrid", "hunt_refine")

RARE_BUDGET = 2000
BALANCED_BUDGET = 1000

FULL = Suite(
    "full",
    tasks=(
        TaskDef(CELEBA, "Smiling", BALANCED_BUDGET, tuned=True),
        TaskDef(CELEBA, "Male", BALANCED_BUDGET),
        TaskDef(CELEBA, "Eyeglasses", RARE_BUDGET, tuned=True),
        TaskDef(CELEBA, "Wearing_Hat", RARE_BUDGET, tuned=True),
        TaskDef(CELEBA, "Gray_Hair", RARE_BUDGET),
        TaskDef(CELEBA, "Goatee", RARE_BUDGET),
        TaskDef(DEMO, "Smiling", 400),
        TaskDef(DEMO, "Wearing_Hat", 400),
    ),
    strategies=STRATEGIES,
    tune_seeds=(100, 101, 102),
    report_seeds=tuple(range(10)),
)

# CI: one seed, the demo faces, a tiny budget; seconds, not minutes
SMOKE = Suite(
    "smoke",
    tasks=(TaskDef(DEMO, "Smiling", 72, tuned=True), TaskDef(DEMO, "Wearing_Hat", 72)),
    strategies=("random", "hunt_refine"),
    tune_seeds=(100,),
    report_seeds=(0,),
    batch_size=24,
)

SUITES: dict[str, Suite] = {s.name: s for s in (FULL, SMOKE)}


def get_suite(name: str, *, strategies: Sequence[str] | None = None, seeds: int | None = None,
              batch_size: int | None = None) -> Suite:
    """A suite by name, optionally with other strategies (random is always kept), fewer report seeds or another page size."""
    try:
        suite = SUITES[name]
    except KeyError:
        raise InvalidInput(f"unknown suite {name!r}; choose one of: {', '.join(SUITES)}") from None
    if strategies:
        suite = replace(suite, strategies=tuple(dict.fromkeys([BASELINE, *strategies])))
    if seeds is not None:
        if seeds < 1:
            raise InvalidInput("--seeds must be at least 1")
        suite = replace(suite, report_seeds=suite.report_seeds[:seeds], tune_seeds=suite.tune_seeds[:seeds])
    if batch_size is not None:
        suite = replace(suite, batch_size=batch_size)
    return suite
