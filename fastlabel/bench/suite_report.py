"""A suite part's tables: both goals per task, every strategy against random seed by seed, and
the verdict on the default strategy's targets."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import goals
from .goals import Reach, RunGoals
from .paired import Paired, paired
from .simulate import Point
from .suite import BASELINE, GREEDY, TaskDef
from .suite_run import SuiteResult
from .timemodel import PRIMARY, TIME_MODELS

RARE = 0.10  # prevalence at or under which a task counts as rare in the verdict
EXPECTED = "random, expected"  # random's find figures in expectation, past its budget


@dataclass
class Figures:
    """task -> strategy -> metric -> per-seed Reach (seed order fixed by `seeds`)."""

    seeds: list[int]
    by: dict[str, dict[str, dict[str, list[Reach | None]]]]

    def cells(self, task: str, strategy: str, metric: str) -> list[Reach | None]:
        return self.by.get(task, {}).get(strategy, {}).get(metric, [None] * len(self.seeds))


def collect(result: SuiteResult) -> Figures:
    runs: dict[tuple[str, str, int], list[Point]] = defaultdict(list)
    for p in result.points:
        runs[(p.attribute, p.strategy, p.seed)].append(p)
    seeds = sorted({seed for _, seed in result.facts})
    by: dict[str, dict[str, dict[str, list[Reach | None]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(lambda: [None] * len(seeds))))
    for (task, strategy, seed), points in runs.items():
        f = result.facts[(task, seed)]
        run: RunGoals = goals.run_goals(points, f.reference_auc, f.pool_positives, f.budget, task)
        for metric, value in run.figures.items():
            if result.suite.find_goal or not metric.startswith("find"):
                by[task][strategy][metric][seeds.index(seed)] = value
        if strategy == BASELINE and result.suite.find_goal:
            expected = by[task][EXPECTED]
            for target in goals.FIND_TARGETS:
                pct = round(target * 100)
                if f"find{pct}_labels" not in run.figures:
                    continue
                measured = run.figures[f"find{pct}_labels"].reached  # random's own run got there
                for name, model in TIME_MODELS.items():
                    labels, secs = goals.expected_random_find(points, target, f.pool_positives, f.pool_size,
                                                              result.suite.batch_size, model)
                    if measured:
                        labels, secs = run.figures[f"find{pct}_labels"].value, run.figures[f"find{pct}_s_{name}"].value
                    expected[f"find{pct}_labels"][seeds.index(seed)] = Reach(labels, True)
                    expected[f"find{pct}_s_{name}"][seeds.index(seed)] = Reach(secs, True)
    return Figures(seeds, by)


def cell(values: Sequence[Reach | None], digits: int = 0) -> str:
    """mean ± std over seeds; '≥' and (k/n) when some seeds were censored at the budget's end."""
    have = [v for v in values if v is not None]
    if not have:
        return "-"
    arr = np.array([v.value for v in have])
    reached = sum(v.reached for v in have)
    body = f"{arr.mean():,.{digits}f} ± {arr.std():,.{digits}f}"
    if reached == len(have):
        return body
    if reached == 0:
        return f"not reached (> {arr.min():,.{digits}f})"
    return f"≥ {body} ({reached}/{len(have)})"


def table(fig: Figures, task: str, strategies: Sequence[str], columns: Sequence[tuple[str, str]]) -> str:
    lines = ["| strategy | " + " | ".join(title for _, title in columns) + " |", "|---|" + "---:|" * len(columns)]
    for s in strategies:
        lines.append(f"| {s} | " + " | ".join(cell(fig.cells(task, s, m)) for m, _ in columns) + " |")
    return "\n".join(lines)


def classifier_columns() -> list[tuple[str, str]]:
    return [("auc90_labels", "labels → 90%"), ("auc95_labels", "labels → 95%"), ("auc95_clicks", "clicks → 95%"),
            *((f"auc{p}_s_{m}", f"s → {p}% ({m})") for p in (90, 95) for m in TIME_MODELS)]


def find_columns(fig: Figures, task: str) -> list[tuple[str, str]]:
    cols = []
    for f in goals.FIND_TARGETS:
        pct = round(f * 100)
        if any(fig.cells(task, BASELINE, f"find{pct}_labels")):
            cols += [(f"find{pct}_labels", f"labels → {pct}%"),
                     *((f"find{pct}_s_{m}", f"s → {pct}% ({m})") for m in TIME_MODELS)]
    return cols


def paired_cell(p: Paired | None) -> str:
    if p is None:
        return "-"
    diff = f"{p.mean_diff:+,.0f} [{p.low:+,.0f}, {p.high:+,.0f}]"
    ratio = f"×{p.ratio:.2f} [{p.ratio_low:.2f}, {p.ratio_high:.2f}]" if p.ratio is not None else ""
    cens = ""
    if p.censored_strategy or p.censored_random:
        cens = f" (cens. {p.censored_strategy}/{p.censored_random})"
    return f"{diff} {ratio} {p.verdict}{cens}".strip()


PAIRED_METRICS = ("auc95_labels", *(f"auc95_s_{m}" for m in TIME_MODELS), *(f"find80_s_{m}" for m in TIME_MODELS))


def paired_table(fig: Figures, task: str, strategies: Sequence[str]) -> str:
    metrics = [m for m in PAIRED_METRICS if not m.startswith("find")]  # random's own find runs stop early
    lines = ["| strategy − random | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for s in strategies:
        if s == BASELINE:
            continue
        cells = [paired_cell(paired(fig.cells(task, s, m), fig.cells(task, BASELINE, m))) for m in metrics]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    finds = [m for m in PAIRED_METRICS if m.startswith("find") and any(fig.cells(task, EXPECTED, m))]
    if finds:
        lines += ["", f"| strategy − {EXPECTED} | " + " | ".join(finds) + " |", "|---|" + "---|" * len(finds)]
    for s in strategies if finds else ():
        if s == BASELINE:
            continue
        cells = [paired_cell(paired(fig.cells(task, s, m), fig.cells(task, EXPECTED, m))) for m in finds]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def prevalence(result: SuiteResult, task: str) -> float:
    facts = [f for (t, _), f in result.facts.items() if t == task]
    return float(np.mean([f.pool_positives / f.pool_size for f in facts]))


def task_section(result: SuiteResult, fig: Figures, t: TaskDef) -> str:
    facts = [f for (name, _), f in result.facts.items() if name == t.name]
    ref = np.array([f.reference_auc for f in facts])
    positives = np.mean([f.pool_positives for f in facts])
    pool = np.mean([f.pool_size for f in facts])
    role = "tuned on (other seeds)" if t.tuned else "held out: never used to choose a setting"
    strategies = list(result.suite.strategies)
    parts = [f"### {t.name} ({prevalence(result, t.name):.1%} positive; {role})", "",
             f"Pool {pool:,.0f} items with {positives:,.0f} positives (mean over seeds); budget {facts[0].budget:,} "
             f"labels; full-data test AUC {ref.mean():.3f} ± {ref.std():.3f}.", "",
             "A good classifier (to 90% / 95% of the full-data AUC):", "",
             table(fig, t.name, strategies, classifier_columns()), ""]
    cols = find_columns(fig, t.name)
    if cols:
        expect = ", ".join(f"{round(f * 100)}%: {f * pool:,.0f}" for f in goals.FIND_TARGETS)
        parts += ["Find the positives (labels holding 50% / 80% / 95% of the pool's positives). Random stops "
                  f"at the AUC targets; `{EXPECTED}` is what uniform sampling needs in expectation (about that "
                  f"share of the pool: {expect} labels), its seconds counting no flips past its run (a lower "
                  "bound, in random's favour), or its own figure where its run got there:", "",
                  table(fig, t.name, [EXPECTED, *(s for s in strategies if s != BASELINE)], cols), ""]
    elif not result.suite.find_goal:
        parts += ["Find the positives: not run in this part (every run stopped at the AUC targets).", ""]
    else:
        parts += ["Find the positives: not reported; even the half of this pool's positives is more than "
                  "the budget.", ""]
    parts += ["Against random, seed by seed (mean difference [95% interval]; ×geometric-mean ratio [95% "
              "interval]; censored seeds strategy/random):", "", paired_table(fig, t.name, strategies), ""]
    return "\n".join(parts)


def verdict_rows(result: SuiteResult, fig: Figures, default: str, finder: str | None = None) -> list[str]:
    """One line per task: the default's targets against random, in the primary time model; the
    find column is `finder`'s (the find goal's strategy) where given."""
    rows = ["| task | positives | tuned on | to 95% AUC, s vs random | find 80%, s vs random (expected) | verdict |",
            "|---|---:|---|---|---|---|"]
    for t in result.tasks():
        prev = prevalence(result, t.name)
        auc = paired(fig.cells(t.name, default, f"auc95_s_{PRIMARY.name}"),
                     fig.cells(t.name, BASELINE, f"auc95_s_{PRIMARY.name}"))
        find = paired(fig.cells(t.name, finder or default, f"find80_s_{PRIMARY.name}"),
                      fig.cells(t.name, EXPECTED, f"find80_s_{PRIMARY.name}"))
        rows.append(f"| {t.name} | {prev:.1%} | {'yes' if t.tuned else 'no'} | {ratio_text(auc)} | "
                    f"{ratio_text(find)} | {verdict(prev, auc, find)} |")
    return rows


def ratio_text(p: Paired | None) -> str:
    if p is None or p.ratio is None:
        return "-"
    bound = ""
    if p.censored_strategy:  # the default's figure is a lower bound: so is the ratio
        bound = f" (not reached in {p.censored_strategy}/{p.n} seeds: at least this)"
    elif p.censored_random:
        bound = " (random not reached in some seeds: at most this)"
    return f"×{p.ratio:.2f} [{p.ratio_low:.2f}, {p.ratio_high:.2f}] {p.verdict}{bound}"


def verdict(prev: float, auc: Paired | None, find: Paired | None) -> str:
    """Rare tasks: both ratios at most 0.5, reached in every seed; balanced: no significant loss."""
    if auc is None:
        return "-"
    if prev > RARE:
        return "no significant loss" if auc.verdict != "worse" else "**significantly worse**"
    notes = []
    for name, p in (("AUC", auc), ("find 80%", find)):
        if p is None or p.ratio is None:
            notes.append(f"{name}: no figure")
        elif p.censored_strategy:
            notes.append(f"{name}: **not met** (not reached within the budget in {p.censored_strategy} seeds)")
        elif p.ratio_high is not None and p.ratio_high <= 0.5:
            notes.append(f"{name}: met (whole interval ≤ ×0.5)")
        elif p.ratio <= 0.5:
            notes.append(f"{name}: met in the mean (interval reaches ×{p.ratio_high:.2f})")
        else:
            notes.append(f"{name}: **not met**" + (", significantly worse" if p.verdict == "worse" else ""))
    return "; ".join(notes)


FIND_FRACTIONS = tuple(round(f * 100) for f in goals.FIND_TARGETS)


def oracle_cells(result: SuiteResult, fig: Figures, task: str, strategy: str, pct: int) -> list[Reach | None]:
    """Labels to pct% of the positives as multiples of the oracle minimum, per seed."""
    out: list[Reach | None] = []
    for seed, reach_ in zip(fig.seeds, fig.cells(task, strategy, f"find{pct}_labels")):
        facts = result.facts.get((task, seed))
        if reach_ is None or facts is None:
            out.append(None)
        else:
            out.append(Reach(reach_.value / goals.oracle_labels(facts.pool_positives), reach_.reached))
    return out


def multiple_cell(values: Sequence[Reach | None]) -> str:
    """Mean multiple over the seeds that got there; 'never' where none did."""
    have = [v for v in values if v is not None]
    if not have:
        return "-"
    reached = [v.value for v in have if v.reached]
    if not reached:
        return f"never (> {min(v.value for v in have):.1f}x)"
    body = f"{np.mean(reached):.2f}x"
    return body if len(reached) == len(have) else f"{body} ({len(reached)}/{len(have)}; the rest never)"


def find_rows(result: SuiteResult, fig: Figures, find_default: str) -> list[str]:
    """The find goal per rare task: labels to 50/80/95% of the positives as multiples of the
    oracle minimum, and the default against greedy search seed by seed (labels to 80%)."""
    finders = result.suite.find_strategies or (find_default, GREEDY)  # the runs that went on to 95% found
    strategies = [s for s in dict.fromkeys((find_default, GREEDY, *finders)) if s in result.suite.strategies]
    head = " | ".join(f"{s}: 50% / 80% / 95%" for s in strategies)
    rows = [f"| task | positives | tuned on | {head} | random, expected 80% | {find_default} − {GREEDY}, "
            "labels to 80% | within 2x oracle (80%) |", "|---|---:|---|" + "---|" * (len(strategies) + 3)]
    for t in result.tasks():
        prev = prevalence(result, t.name)
        if prev > RARE or not any(fig.cells(t.name, find_default, "find80_labels")):
            continue
        cells = [" / ".join(multiple_cell(oracle_cells(result, fig, t.name, s, pct)) for pct in FIND_FRACTIONS)
                 for s in strategies]
        rand = multiple_cell(oracle_cells(result, fig, t.name, EXPECTED, 80))
        vs = paired(fig.cells(t.name, find_default, "find80_labels"), fig.cells(t.name, GREEDY, "find80_labels"))
        own = [c for c in oracle_cells(result, fig, t.name, find_default, 80) if c is not None]
        within = sum(c.reached and c.value <= 2.0 for c in own)
        rows.append(f"| {t.name} | {prev:.1%} | {'yes' if t.tuned else 'no'} | " + " | ".join(cells) +
                    f" | {rand} | {paired_cell(vs)} | {within}/{len(own)} seeds |")
    return rows


def train_rows(result: SuiteResult, fig: Figures, train_default: str) -> list[str]:
    """The train goal per task: the default against random, labels to 95% of the full-data AUC."""
    rows = [f"| task | positives | {train_default} − random, labels to 95% AUC | verdict |", "|---|---:|---|---|"]
    for t in result.tasks():
        p = paired(fig.cells(t.name, train_default, "auc95_labels"), fig.cells(t.name, BASELINE, "auc95_labels"))
        if p is None:
            continue
        text = "**significantly worse**" if p.verdict == "worse" else "no significant loss"
        rows.append(f"| {t.name} | {prevalence(result, t.name):.1%} | {paired_cell(p)} | {text} |")
    return rows


def suite_markdown(result: SuiteResult, default: str, meta: dict, find_default: str | None = None) -> str:
    s = result.suite
    fig = collect(result)
    seeds = sorted({seed for _, seed in result.facts})
    tuned = ", ".join(t.name for t in s.tasks if t.tuned)
    lines = [f"# Benchmark suite `{s.name}`, part `{result.part}`", "",
             f"Encoders: {', '.join(f'{k}: {v}' for k, v in result.encoders.items())}; pages of {s.batch_size}; "
             f"seeds {', '.join(map(str, seeds))}; strategies {', '.join(s.strategies)}; default `{default}`. "
             f"Run time {result.seconds / 60:.1f} min.", "",
             f"Tuning used the tasks {tuned} on seeds {', '.join(map(str, s.tune_seeds))}; the report part "
             f"runs every task on seeds {', '.join(map(str, s.report_seeds))}, never used for tuning.", "",
             "Human seconds: " + "; ".join(f"`{m.name}` = {m.formula()}" for m in TIME_MODELS.values()) +
             " (clicks are card flips; sources in `fastlabel/bench/timemodel.py`).", "",
             "Cells: mean ± std over seeds; `≥ … (k/n)`: only k of n seeds reached the target and the others "
             "count at their budget-end value (a lower bound).", ""]
    if meta.get("plots"):
        lines += [f"Plots: {', '.join(meta['plots'])}.", ""]
    finder = find_default if find_default in s.find_strategies else None
    title = f"`{default}`, and `{finder}` for find 80%" if finder else f"`{default}`"
    lines += [f"## The default ({title}) against random, `{PRIMARY.name}` time model", "",
              *verdict_rows(result, fig, default, finder), "",
              f"Ratios are geometric means of the per-seed ratio default / random with a 95% interval; rare "
              f"(≤ {RARE:.0%}) tasks aim at ×0.5 or less on both, balanced ones at no significant loss.", ""]
    if find_default and find_default in s.strategies and s.find_goal:
        lines += [f"## Goal *find every positive* (`{find_default}`) against the oracle minimum", "",
                  "Labels to hold 50% / 80% / 95% of the pool's positives as multiples of the oracle minimum "
                  "(0.8 x the pool's positives: what a perfect hunter needs for 80%), the mean over the seeds "
                  "that got there; and the default against greedy search (`verify_positives`) seed by seed, in "
                  "labels to 80% (censored seeds count at their budget's end).", "",
                  *find_rows(result, fig, find_default), ""]
    if default in s.strategies:
        lines += [f"## Goal *train a classifier* (`{default}`) against random", "",
                  *train_rows(result, fig, default), ""]
    lines += ["## Tasks", ""]

    for t in result.tasks():
        lines.append(task_section(result, fig, t))
    return "\n".join(lines).rstrip() + "\n"


