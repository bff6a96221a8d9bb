"""AUC against labels and against clicks, one line per strategy (mean over seeds), one panel per attribute."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from .simulate import Point


def pyplot():
    """matplotlib, imported only when plotting, with a clear message when it is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise RuntimeError("plots need matplotlib: pip install 'fastlabel[bench]'") from exc
    return plt


def step_values(xs: np.ndarray, ys: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """y of the last point at or before each grid x (a run's AUC holds until its next page)."""
    return ys[np.clip(np.searchsorted(xs, grid, side="right") - 1, 0, None)]


def mean_curves(points: Sequence[Point], x: str) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """attribute -> strategy -> (x grid, mean AUC over seeds): page sizes may differ between seeds
    (a hybrid's short first pages), so each run is read as a step function on the shared grid."""
    runs: dict[tuple[str, str], dict[int, list[Point]]] = defaultdict(lambda: defaultdict(list))
    for p in points:
        runs[(p.attribute, p.strategy)][p.seed].append(p)
    out: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = defaultdict(dict)
    for (attribute, strategy), seeds in runs.items():
        series = [(np.array([getattr(p, x) for p in r]), np.array([p.auc for p in r])) for r in seeds.values()]
        grid = np.unique(np.concatenate([xs for xs, _ in series]))
        grid = grid[grid <= min(xs[-1] for xs, _ in series)]  # where every seed still has data
        out[attribute][strategy] = (grid, np.mean([step_values(xs, ys, grid) for xs, ys in series], axis=0))
    return dict(out)


def plot_auc(points: Sequence[Point], x: str, path: Path) -> None:
    plt = pyplot()
    curves = mean_curves(points, x)
    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4.2), squeeze=False)
    for ax, (attribute, rows) in zip(axes[0], curves.items()):
        for strategy, (xs, ys) in rows.items():
            width = 2.2 if strategy.startswith("hybrid") else 1.2
            ax.plot(xs, ys, drawstyle="steps-post", label=strategy, linewidth=width)
        ax.set_title(attribute)
        ax.set_xlabel("labels" if x == "labels" else "simulated clicks")
        ax.set_ylabel("test ROC-AUC")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_plots(points: Sequence[Point], out: Path) -> list[Path]:
    paths = [out / "auc_vs_labels.png", out / "auc_vs_clicks.png"]
    plot_auc(points, "labels", paths[0])
    plot_auc(points, "clicks", paths[1])
    return paths
