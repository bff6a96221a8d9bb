"""From per-page points to per-run effort figures, mean ± std over seeds, and the written files."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from .clicks import safe_ratio
from .goals import AUC_TARGETS as TARGETS, run_goals
from .simulate import POINT_FIELDS, Point
from .timemodel import PRIMARY

BASELINE = "random"
FIND_TARGET = 0.80  # the find goal's share of the pool's positives the tables report


@dataclass(frozen=True)
class RunFigures:
    """One run's (attribute, strategy, seed) effort and quality figures."""

    attribute: str
    strategy: str
    seed: int
    final_auc: float
    auc_at: dict[int, float]  # label count -> test AUC after the last page within it
    reached: dict[str, float | None]  # the goals' figures (goals.metric_names) when met; None: not within
    # the budget; a find target the budget cannot hold (more positives than labels) is absent
    clicks_per_label: float | None
    positives_per_click: float | None


def auc_at_labels(points: Sequence[Point], labels: int) -> float:
    """Test AUC after the last page that keeps the label count within `labels`."""
    within = [p.auc for p in points if p.labels <= labels]
    return within[-1] if within else float("nan")


def run_figures(points: Sequence[Point], reference_auc: float, marks: Sequence[int], pool_positives: int,
                budget: int) -> RunFigures:
    """Figures for one run's points (in page order) against the full-data head's AUC and the positives
    of its pool (the suite's goals: labels, clicks and human seconds to each target)."""
    last = points[-1]
    goals = run_goals(points, reference_auc, pool_positives, budget, last.attribute).figures
    reached = {name: (r.value if r.reached else None) for name, r in goals.items()}
    return RunFigures(last.attribute, last.strategy, last.seed, last.auc,
                      {m: auc_at_labels(points, m) for m in marks}, reached,
                      safe_ratio(last.clicks, last.labels), safe_ratio(last.positives, last.clicks))


def group_runs(points: Iterable[Point]) -> dict[tuple[str, str, int], list[Point]]:
    runs: dict[tuple[str, str, int], list[Point]] = defaultdict(list)
    for p in points:
        runs[(p.attribute, p.strategy, p.seed)].append(p)
    return dict(runs)


@dataclass(frozen=True)
class Stat:
    """Mean ± std over the seeds that have a value; `n` of `total` seeds had one."""

    mean: float | None
    std: float | None
    n: int
    total: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> "Stat":
        have = [float(v) for v in values if v is not None and not math.isnan(v)]
        if not have:
            return cls(None, None, 0, len(values))
        return cls(float(np.mean(have)), float(np.std(have)), len(have), len(values))

    def text(self, digits: int = 0) -> str:
        if self.total == 0:
            return "–"  # no run could have reached it (a find target beyond the budget)
        if self.mean is None:
            return "not reached"
        body = f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"
        return body if self.n == self.total else f"{body} ({self.n}/{self.total})"

    def rank_key(self) -> tuple[int, float]:
        """Sorts runs that always reach the target first, then the smaller mean."""
        return (-self.n, self.mean if self.mean is not None else math.inf)


def summarise_strategy(figures: Sequence[RunFigures], marks: Sequence[int]) -> dict[str, Stat]:
    out = {"final_auc": Stat.of([f.final_auc for f in figures])}
    for m in marks:
        out[f"auc_at_{m}"] = Stat.of([f.auc_at[m] for f in figures])
    def goal(name: str) -> Stat:
        return Stat.of([f.reached[name] for f in figures if name in f.reached])

    for t in TARGETS:
        pct = round(t * 100)
        out[f"labels_to_{pct}"] = goal(f"auc{pct}_labels")
        out[f"clicks_to_{pct}"] = goal(f"auc{pct}_clicks")
        out[f"seconds_to_{pct}"] = goal(f"auc{pct}_s_{PRIMARY.name}")
    find = round(FIND_TARGET * 100)
    out[f"labels_to_find{find}"] = goal(f"find{find}_labels")
    out[f"seconds_to_find{find}"] = goal(f"find{find}_s_{PRIMARY.name}")
    out["clicks_per_label"] = Stat.of([f.clicks_per_label for f in figures])
    out["positives_per_click"] = Stat.of([f.positives_per_click for f in figures])
    return out


def summarise(points: Sequence[Point], references: dict[tuple[str, int], float], marks: Sequence[int],
              positives: dict[tuple[str, int], int], budget: int) -> dict[str, dict[str, dict[str, Stat]]]:
    """attribute -> strategy -> metric -> Stat, strategies in first-seen order; `references` and
    `positives`: each (attribute, seed)'s full-data AUC and the positives in its pool."""
    by_row: dict[tuple[str, str], list[RunFigures]] = defaultdict(list)
    for (attribute, strategy, seed), run in group_runs(points).items():
        by_row[(attribute, strategy)].append(
            run_figures(run, references[(attribute, seed)], marks, positives[(attribute, seed)], budget))
    out: dict[str, dict[str, dict[str, Stat]]] = defaultdict(dict)
    for (attribute, strategy), figures in by_row.items():
        out[attribute][strategy] = summarise_strategy(figures, marks)
    return dict(out)


SECONDS_NOTE = (f"Human seconds: the suite's time model ({PRIMARY.name}: {PRIMARY.formula()}; "
                "fastlabel/bench/timemodel.py), modelled, not measured. Labels → 80% of positives: until the labels "
                "hold 80% of the positives in the pool (– where the budget cannot hold them).")

COLUMNS = (
    ("final_auc", "final AUC", 3),
    ("labels_to_90", "labels → 90%", 0),
    ("labels_to_95", "labels → 95%", 0),
    ("clicks_to_90", "clicks → 90%", 0),
    ("clicks_to_95", "clicks → 95%", 0),
    ("seconds_to_95", "human s → 95%", 0),
    ("labels_to_find80", "labels → 80% of positives", 0),
    ("seconds_to_find80", "human s → 80% of positives", 0),
    ("clicks_per_label", "clicks/label", 3),
    ("positives_per_click", "positives/click", 2),
)


def markdown_table(rows: dict[str, dict[str, Stat]], marks: Sequence[int]) -> str:
    """One row per strategy: mean ± std over seeds."""
    columns = [COLUMNS[0], *((f"auc_at_{m}", f"AUC @{m}", 3) for m in marks), *COLUMNS[1:]]
    lines = ["| strategy | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---|" + "---:|" * len(columns)]
    for strategy, stats in rows.items():
        cells = [stats[key].text(digits) for key, _, digits in columns]
        lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def headline(rows: dict[str, dict[str, Stat]], target: int = 95) -> dict[str, Any] | None:
    """The row with the fewest clicks to `target`% of full-data AUC (reached in the most seeds), against random."""
    key = f"clicks_to_{target}"
    if BASELINE not in rows or not any(st[key].n for st in rows.values()):
        return None
    best = min(rows, key=lambda s: rows[s][key].rank_key())
    base, win = rows[BASELINE], rows[best]

    def saving(metric: str) -> float | None:
        b, w = base[metric], win[metric]
        return None if b.mean is None or w.mean is None or b.n < b.total else 1 - w.mean / b.mean

    return {"target_pct": target, "best": best, "best_seeds": [win[key].n, win[key].total],
            "best_labels": win[f"labels_to_{target}"].mean, "best_clicks": win[key].mean,
            "random_labels": base[f"labels_to_{target}"].mean, "random_clicks": base[key].mean,
            "random_seeds": [base[key].n, base[key].total],
            "label_saving": saving(f"labels_to_{target}"), "click_saving": saving(key)}


def headline_text(attribute: str, h: dict[str, Any] | None) -> str:
    if h is None:
        return (f"{attribute}: no headline (it needs the random baseline, and a row that reaches 95% "
                "of the full-data AUC).")

    def amount(v: float | None) -> str:
        return "not reached" if v is None else f"{v:.0f}"

    def change(v: float | None) -> str:
        if v is None:
            return ""
        return f" ({v:.0%} fewer than random)" if v >= 0 else f" ({-v:.0%} more than random)"

    (won, tried), (base_won, base_tried) = h["best_seeds"], h["random_seeds"]  # seeds reaching the target, of all
    seeds = "" if won == tried else f" in {won}/{tried} seeds"
    base_seeds = "" if base_won == base_tried else f" (in {base_won}/{base_tried} seeds)"
    if h["best"] == BASELINE:
        return (f"{attribute}: no strategy beats random to {h['target_pct']}% of the full-data AUC: random needs "
                f"{amount(h['random_labels'])} labels and {amount(h['random_clicks'])} clicks{base_seeds}.")
    return (f"{attribute}: **{h['best']}** reaches {h['target_pct']}% of the full-data AUC{seeds} after "
            f"{amount(h['best_labels'])} labels{change(h['label_saving'])} and {amount(h['best_clicks'])} clicks"
            f"{change(h['click_saving'])}; random needs {amount(h['random_labels'])} labels and "
            f"{amount(h['random_clicks'])} clicks{base_seeds}.")


def write_points_csv(points: Sequence[Point], path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(POINT_FIELDS)
        for p in points:
            row = asdict(p)
            writer.writerow([f"{row[k]:.5f}" if isinstance(row[k], float) else row[k] for k in POINT_FIELDS])


def stats_json(rows: dict[str, dict[str, dict[str, Stat]]]) -> dict:
    return {a: {s: {k: asdict(v) for k, v in stats.items()} for s, stats in strategies.items()}
            for a, strategies in rows.items()}


def summary_markdown(summary: dict[str, dict[str, dict[str, Stat]]], references: dict[tuple[str, int], float],
                     marks: Sequence[int], header: Sequence[str], notes: Sequence[str]) -> str:
    parts = [*header, "", SECONDS_NOTE]
    for note in notes:
        parts.append(f"Note: {note}.")
    for attribute, rows in summary.items():
        ref = Stat.of([v for (a, _), v in references.items() if a == attribute])
        parts += ["", f"### {attribute}", "",
                  f"Full-data head (trained from scratch on the whole training split): test AUC {ref.text(3)}.",
                  "", markdown_table(rows, marks), "", headline_text(attribute, headline(rows))]
    return "\n".join(parts).strip() + "\n"


def write_summary(out: Path, points: Sequence[Point], references: dict[tuple[str, int], float],
                  positives: dict[tuple[str, int], int], budget: int, marks: Sequence[int], meta: dict[str, Any],
                  header: Sequence[str], notes: Sequence[str]) -> dict[str, dict[str, dict[str, Stat]]]:
    """points.csv, summary.json and summary.md under `out`; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(points, references, marks, positives, budget)
    write_points_csv(points, out / "points.csv")
    body = {**meta, "notes": list(notes), "marks": list(marks),
            "reference_auc": {f"{a}/seed{s}": v for (a, s), v in references.items()},
            "pool_positives": {f"{a}/seed{s}": v for (a, s), v in positives.items()},
            "time_model": {"name": PRIMARY.name, "formula": PRIMARY.formula()},
            "results": stats_json(summary),
            "headline": {a: headline(rows) for a, rows in summary.items()}}
    (out / "summary.json").write_text(json.dumps(body, indent=2) + "\n")
    (out / "summary.md").write_text(summary_markdown(summary, references, marks, header, notes))
    return summary
