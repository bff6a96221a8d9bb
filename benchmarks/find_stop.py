"""When the find goal says stop, is its estimate of the positives still hidden right?

A simulated labeler runs the app's loop with the find goal's strategy (pages with 2 random audit
cards each) on rare attributes, answering from the attribute column, until the find goal's stop
signal fires or the budget ends. At the moment it fires, the panel's estimate of the positives in
the pool (labeled + still hidden, with its interval) is set beside the truth: the interval covers
the truth when the true hidden count lies within it. `A+B` names a planted concept: the items
that have both attributes (e.g. the demo faces' Wearing_Hat+Eyeglasses, about 2%).

    PYTHONPATH=. python benchmarks/find_stop.py --home .fastlabel --encoder imagenet \\
        --data-root ../shared/data --attributes Gray_Hair,Pale_Skin --seeds 0,1,2 --budget 2400
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from fastlabel.bench.suite_run import open_suite_data
from fastlabel.config import Config
from fastlabel.learner.goals import get_goal
from fastlabel.session import LabelingSession


def run(embeddings: np.ndarray, y: np.ndarray, seed: int, budget: int, batch_size: int) -> dict:
    """Label until the find stop fires (or the budget ends); the estimate and the truth at that moment."""
    session = LabelingSession(embeddings, seed=seed)
    strategy = get_goal("find").strategy
    while len(session.state.labels) < budget:
        batch = session.next_batch(strategy, min(batch_size, budget - len(session.state.labels)))
        if batch.exhausted or not batch.ids:
            break
        session.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
        session.settle()
        view = session.insights(goal="find")
        if view["stop"]["ready"]:
            break
    view = session.insights(goal="find")
    total = view["find"]["total"]
    hidden_true = int(y.sum()) - session.state.n_positive
    row = {"seed": seed, "labels": len(session.state.labels), "found": session.state.n_positive,
           "positives": int(y.sum()), "fired": bool(view["stop"]["ready"]), "total": total}
    if total is not None:
        found = session.state.n_positive
        row["covered"] = total["low"] - found <= hidden_true <= total["high"] - found
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path(".fastlabel"))
    ap.add_argument("--encoder", default="imagenet")
    ap.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--data", default="celeba10k", help="celeba10k | demo")
    ap.add_argument("--attributes", default="Gray_Hair",
                    help="comma-separated columns; A+B: a planted concept, items with both")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--budget", type=int, default=2400)
    ap.add_argument("--batch-size", type=int, default=48)
    args = ap.parse_args(argv)
    data = open_suite_data(args.data, replace(Config(), home=args.home, encoder=args.encoder), args.data_root)
    print("| task | seed | labels when it fired | found | positives in the pool | estimate (interval) | covers the truth |")
    print("|---|---:|---:|---:|---:|---|---|")
    covered = fired = 0
    with threadpool_limits(limits=1):
        for attribute in args.attributes.split(","):
            y = np.prod([data.columns[a] for a in attribute.split("+")], axis=0)
            for seed in (int(s) for s in args.seeds.split(",")):
                row = run(data.embeddings, y, seed, args.budget, args.batch_size)
                t = row["total"]
                est = f"{t['value']:,.0f} ({t['low']:,.0f}–{t['high']:,.0f})" if t else "–"
                when = row["labels"] if row["fired"] else f"not fired in {row['labels']}"
                print(f"| {attribute} | {seed} | {when} | {row['found']} | {row['positives']} | {est} | "
                      f"{'yes' if row.get('covered') else 'no'} |", flush=True)
                fired += row["fired"]
                covered += bool(row["fired"] and row.get("covered"))
    print(f"\nthe stop fired in {fired} runs; its interval covered the truth in {covered} of them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
