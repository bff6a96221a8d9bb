"""Choose the active search's settings on the suite's tuning part only (the find goal).

Runs the `full` suite's tuned rare tasks on its tuning seeds with verify_positives, hunt_refine
and variants of active search (registered for this process only), each until 95% of the pool's
positives are labeled or the budget is spent, and prints the labels each needed to find 50/80/95%
of the positives as multiples of the oracle minimum (0.8 x the pool's positives). The report part
(`fastlabel bench --suite full`) never sees these seeds.

    PYTHONPATH=. python benchmarks/tune_search.py --home .fastlabel --encoder imagenet \\
        --data-root ../shared/data --variants ens,ens_greedy,ens_knn
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from fastlabel.bench.goals import needed_positives
from fastlabel.bench.runner import make_task
from fastlabel.bench.simulate import Run, simulate
from fastlabel.bench.split import holdout_split
from fastlabel.bench.suite import FULL
from fastlabel.bench.suite_run import open_suite_data
from fastlabel.config import Config
from fastlabel.learner.active_search import SearchPlan, make_active_search
from fastlabel.learner.base import PageKind
from fastlabel.learner.registry import CATALOG, HUNTING, STRATEGIES

VARIANTS = {
    "ens": SearchPlan(),
    "ens_greedy": SearchPlan(sequential=False),
    "ens_knn": SearchPlan(head_weight=0.0),
    "ens_head8": SearchPlan(head_weight=0.8),
    "ens_h3": SearchPlan(horizon_pages=3),
    "ens_h30": SearchPlan(horizon_pages=30),
    "ens_h1": SearchPlan(horizon_pages=1),
    "ens_h1_head8": SearchPlan(horizon_pages=1, head_weight=0.8),
    "ens_h0": SearchPlan(horizon_pages=0),
    "ens_h3_head8": SearchPlan(horizon_pages=3, head_weight=0.8),
    "ens_h1_head9": SearchPlan(horizon_pages=1, head_weight=0.9),
    "ens_h0_head8": SearchPlan(horizon_pages=0, head_weight=0.8),
    "ens_k10": SearchPlan(k=10),
    "ens_k50": SearchPlan(k=50),
}
FRACTIONS = (0.5, 0.8, 0.95)


def register(names: list[str]) -> None:
    for name in names:
        if name in VARIANTS:
            CATALOG[name] = STRATEGIES[name] = PageKind(name, f"active search {VARIANTS[name]}", "positive",
                                                        make_active_search(VARIANTS[name]), needs=HUNTING)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path(".fastlabel"))
    ap.add_argument("--encoder", default="imagenet")
    ap.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--variants", default="ens")
    ap.add_argument("--baselines", default="verify_positives")
    ap.add_argument("--tasks", default="", help="comma-separated attributes (default: the tuned rare tasks)")
    ap.add_argument("--seeds", type=int, default=len(FULL.tune_seeds))
    ap.add_argument("--budget", type=int, default=1500)
    args = ap.parse_args(argv)
    names = [n for n in args.baselines.split(",") + args.variants.split(",") if n]
    register(names)
    data = open_suite_data("celeba10k", replace(Config(), home=args.home, encoder=args.encoder), args.data_root)
    tasks = args.tasks.split(",") if args.tasks else [t.attribute for t in FULL.tasks
                                                      if t.tuned and t.data == "celeba10k" and t.budget > 1000]
    with threadpool_limits(limits=1):
        for seed in FULL.tune_seeds[: args.seeds]:
            split = holdout_split(len(data.embeddings), data.identities, FULL.test_fraction, seed)
            index = None
            for attribute in tasks:
                task = make_task(data.embeddings, data.columns[attribute], split.train, split.test, attribute, seed, index)
                index = task.fitted_index()
                positives = int(task.train_y.sum())
                oracle = 0.8 * positives
                need = needed_positives(max(FRACTIONS), positives)
                for name in names:
                    points = simulate(task, Run(name, name), args.budget, FULL.batch_size,
                                      stop=lambda pts: pts[-1].positives >= need)
                    found = np.array([p.positives for p in points])
                    labels = np.array([p.labels for p in points])
                    cells = []
                    for f in FRACTIONS:
                        hit = np.flatnonzero(found >= needed_positives(f, positives))
                        cells.append(f"{f:.0%}: {labels[hit[0]] / oracle:.2f}x" if hit.size else f"{f:.0%}: never")
                    print(f"{attribute} seed {seed} {name:18s} P={positives} found {found[-1]} in {labels[-1]}: "
                          + "  ".join(cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
