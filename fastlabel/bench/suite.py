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
    find_goal: bool = True  # False: every run stops at the AUC targets (the classifier goal only)
    # With `find_strategies` named, each strategy is measured on its goal only, which halves the
    # run time: those serving the find goal stop once 95% of the positives are found, all others
    # at the AUC targets. Without, every run waits for both (random for the AUC targets only: its
    # find figures are its expectation).
    find_strategies: tuple[str, ...] = ()

    def stops(self, strategy: str) -> tuple[bool, bool]:
        """(find, train): which goals' targets a run of this strategy waits for."""
        if not self.find_strategies:
            return self.find_goal and strategy != BASELINE, True
        if strategy in self.find_strategies and self.find_goal:
            return True, False
        return False, True

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
GREEDY = "verify_positives"  # plain greedy search: what a find-the-positives policy must beat
STRATEGIES = ("random", "kmeans", "borderline", "verify_positives", "hybrid", "hunt_refine", "active_search")
FIND_STRATEGIES = ("verify_positives", "active_search")

RARE_BUDGET = 2400
BALANCED_BUDGET = 1000

# Rare celeba10k attributes (2-7% positive). Bald, Mustache and Blond_Hair are left out of both
# parts on purpose: they are kept for a check from outside the suite.
FULL = Suite(
    "full",
    tasks=(
        TaskDef(CELEBA, "Smiling", BALANCED_BUDGET, tuned=True),
        TaskDef(CELEBA, "Male", BALANCED_BUDGET),
        TaskDef(CELEBA, "Eyeglasses", RARE_BUDGET, tuned=True),
        TaskDef(CELEBA, "Wearing_Hat", RARE_BUDGET, tuned=True),
        TaskDef(CELEBA, "Gray_Hair", RARE_BUDGET),
        TaskDef(CELEBA, "Goatee", RARE_BUDGET),
        TaskDef(CELEBA, "Pale_Skin", RARE_BUDGET),
        TaskDef(CELEBA, "Double_Chin", RARE_BUDGET),
        TaskDef(CELEBA, "Blurry", RARE_BUDGET),
        TaskDef(CELEBA, "Sideburns", RARE_BUDGET),
        TaskDef(CELEBA, "Chubby", RARE_BUDGET),
        TaskDef(DEMO, "Smiling", 400),
        TaskDef(DEMO, "Wearing_Hat", 400),
    ),
    strategies=STRATEGIES,
    tune_seeds=(100, 101, 102),
    report_seeds=tuple(range(10)),
    find_strategies=FIND_STRATEGIES,
)

# CI: one seed, the demo faces, a tiny budget; seconds, not minutes
SMOKE = Suite(
    "smoke",
    tasks=(TaskDef(DEMO, "Smiling", 72, tuned=True), TaskDef(DEMO, "Wearing_Hat", 72)),
    strategies=("random", "hunt_refine", "active_search"),
    tune_seeds=(100,),
    report_seeds=(0,),
    batch_size=24,
    find_strategies=FIND_STRATEGIES,
)

SUITES: dict[str, Suite] = {s.name: s for s in (FULL, SMOKE)}


def get_suite(name: str, *, strategies: Sequence[str] | None = None, seeds: int | None = None,
              batch_size: int | None = None, auc_only: bool = False, tasks: Sequence[str] | None = None,
              first_seed: int | None = None) -> Suite:
    """A suite by name, optionally with other strategies (random is always kept), fewer report
    seeds (or seeds from `first_seed` on), some of its tasks only ("Attribute" or "data/Attribute"),
    another page size, or the classifier goal only (runs stop at the AUC targets: cheap)."""
    try:
        suite = SUITES[name]
    except KeyError:
        raise InvalidInput(f"unknown suite {name!r}; choose one of: {', '.join(SUITES)}") from None
    if strategies:
        suite = replace(suite, strategies=tuple(dict.fromkeys([BASELINE, *strategies])))
    if first_seed is not None:
        suite = replace(suite, report_seeds=tuple(x for x in suite.report_seeds if x >= first_seed),
                        tune_seeds=tuple(x for x in suite.tune_seeds if x >= first_seed))
    if seeds is not None:
        if seeds < 1:
            raise InvalidInput("--seeds must be at least 1")
        suite = replace(suite, report_seeds=suite.report_seeds[:seeds], tune_seeds=suite.tune_seeds[:seeds])
    if tasks:
        wanted = set(tasks)
        kept = tuple(t for t in suite.tasks if t.name in wanted or t.attribute in wanted)
        unknown = wanted - {t.name for t in kept} - {t.attribute for t in kept}
        if unknown:
            raise InvalidInput(f"not in suite {name!r}: {', '.join(sorted(unknown))}")
        suite = replace(suite, tasks=kept)
    if batch_size is not None:
        suite = replace(suite, batch_size=batch_size)
    return replace(suite, find_goal=False) if auc_only else suite
