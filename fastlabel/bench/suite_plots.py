"""A suite part's plots, one panel per task: test AUC and the share of positives found, against
human seconds. Lines are the mean over seeds, bands one standard deviation either side; the AUC
panels draw the full-data AUC and the 95% target; y ranges are fitted to what is drawn."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .goals import FIND_TARGETS, page_seconds
from .plots import pyplot, step_values
from .simulate import Point
from .suite import BASELINE
from .suite_run import SuiteResult
from .timemodel import PRIMARY

Series = Callable[[list[Point]], np.ndarray]


def runs_of(result: SuiteResult, task: str) -> dict[str, list[list[Point]]]:
    runs: dict[tuple[str, int], list[Point]] = defaultdict(list)
    for p in result.points:
        if p.attribute == task:
            runs[(p.strategy, p.seed)].append(p)
    out: dict[str, list[list[Point]]] = defaultdict(list)
    for (strategy, _), points in runs.items():
        out[strategy].append(points)
    return out


def band(runs: list[list[Point]], y: Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(seconds grid, mean, std, end of every seed's first page) over seeds, each run read as a
    step function up to where every seed has data."""
    series = [(np.array(page_seconds(r, PRIMARY)), y(r)) for r in runs]
    grid = np.unique(np.concatenate([xs for xs, _ in series]))
    grid = grid[grid <= min(xs[-1] for xs, _ in series)]
    values = np.array([step_values(xs, ys, grid) for xs, ys in series])
    first_page = max(xs[1] if xs.size > 1 else xs[0] for xs, _ in series)
    return grid, values.mean(axis=0), values.std(axis=0), float(first_page)


def panel(ax, result: SuiteResult, task: str, y: Series, lines: Sequence[tuple[float, str, str]],
          default: str, ylabel: str) -> None:
    lows, highs = [v for v, _, _ in lines], [v for v, _, _ in lines]
    for strategy, runs in runs_of(result, task).items():
        xs, mean, std, first_page = band(runs, y)
        width = 2.4 if strategy == default else (1.6 if strategy == BASELINE else 1.1)
        (line,) = ax.plot(xs / 60, mean, drawstyle="steps-post", label=strategy, linewidth=width)
        ax.fill_between(xs / 60, mean - std, mean + std, step="post", alpha=0.15, color=line.get_color())
        shown = xs >= first_page  # the y range fits the curves once every seed has a first page
        if shown.any():
            lows.append(float(np.min((mean - std)[shown])))
            highs.append(float(np.max((mean + std)[shown])))
    for value, style, label in lines:
        ax.axhline(value, color="black", linestyle=style, linewidth=0.9, label=label)
    low, high = min(lows), max(highs)
    pad = 0.05 * (high - low or 1.0)
    ax.set_ylim(low - pad, high + pad)
    ax.set_title(task, fontsize=10)
    ax.set_xlabel(f"human minutes ({PRIMARY.name} time model)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)


def figure(result: SuiteResult, default: str, what: str, path: Path, encoder_text: str) -> None:
    plt = pyplot()
    tasks = result.tasks()
    cols = min(4, len(tasks))
    rows = math.ceil(len(tasks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.8 * rows), squeeze=False)
    for ax, t in zip(axes.flat, tasks):
        facts = [f for (name, _), f in result.facts.items() if name == t.name]
        if what == "auc":
            ref = float(np.mean([f.reference_auc for f in facts]))
            panel(ax, result, t.name, lambda r: np.array([p.auc for p in r]),
                  [(ref, "-", "full-data AUC"), (0.95 * ref, "--", "95% target")], default, "test ROC-AUC")
        else:
            pos = float(np.mean([f.pool_positives for f in facts]))
            panel(ax, result, t.name, lambda r, pos=pos: np.array([p.positives for p in r]) / pos,
                  [(f, ":", f"{f:.0%} found") for f in FIND_TARGETS], default, "share of the positives found")
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 8), fontsize=8)
    seeds = sorted({seed for _, seed in result.facts})
    goal = "test AUC" if what == "auc" else "positives found"
    fig.suptitle(f"{goal} vs human time; encoder {encoder_text}; pages of {result.suite.batch_size}; "
                 f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]}); mean ± std over seeds", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_suite_plots(result: SuiteResult, default: str, out: Path) -> list[Path]:
    encoder_text = ", ".join(f"{v} ({k})" for k, v in result.encoders.items())
    paths = [out / "auc_vs_seconds.png", out / "found_vs_seconds.png"]
    figure(result, default, "auc", paths[0], encoder_text)
    figure(result, default, "found", paths[1], encoder_text)
    return paths
