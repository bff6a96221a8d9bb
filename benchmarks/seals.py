"""Does drawing candidates from the labeled items' neighbours (SEALS) cost anything? The same
session loop with the score-ranked strategies searching every unlabeled item, and searching only
the 100 nearest neighbours of each labeled item (forced on, although the app turns it on from
100,000 items), on rare attributes.

Each run labels `--budget` items in pages of `--page` through `LabelingSession` (head retrained
after every page), answered from the attribute column; reported: positives found and held-out
test AUC at the end.
Run: .venv/bin/python benchmarks/seals.py --embeddings E.npy --attributes A.csv --identities I.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from fastlabel.bench.simulate import Run, Task, simulate
from fastlabel.bench.split import holdout_split
from fastlabel.data import read_attributes
from fastlabel.data.attributes import read_identities
from fastlabel.learner import candidates as candidates_module
from fastlabel.learner.candidates import Seals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--attributes", type=Path, required=True)
    parser.add_argument("--identities", type=Path)
    parser.add_argument("--attribute", nargs="+", default=["Eyeglasses", "Gray_Hair"])
    parser.add_argument("--strategies", nargs="+", default=["verify_positives", "borderline"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--budget", type=int, default=480)
    parser.add_argument("--page", type=int, default=48)
    args = parser.parse_args()
    emb = np.asarray(np.load(args.embeddings, mmap_mode="r"), dtype=np.float32)
    table = read_attributes(args.attributes, len(emb))
    identities = read_identities(args.identities, len(emb)) if args.identities else None
    print(f"{args.embeddings.name}: {len(emb):,} items; {args.budget} labels in pages of {args.page}; "
          f"seeds 0..{args.seeds - 1}\n")
    print("| attribute | strategy | seed | positives, full scan | positives, SEALS | AUC, full scan | AUC, SEALS |")
    print("|---|---|---:|---:|---:|---:|---:|")
    default = candidates_module.SEALS
    for attribute in args.attribute:
        truth = table.column(attribute).astype(int)
        for seed in range(args.seeds):
            split = holdout_split(len(emb), identities, 0.2, seed)
            task = Task(attribute, seed, emb[split.train], truth[split.train], emb[split.test], truth[split.test])
            for strategy in args.strategies:
                ends = []
                for seals in (Seals(min_pool=10**12), Seals(min_pool=0)):
                    candidates_module.SEALS = seals  # what candidates() uses when not told
                    ends.append(simulate(task, Run(strategy, strategy), args.budget, args.page)[-1])
                candidates_module.SEALS = default
                full, near = ends
                print(f"| {attribute} | {strategy} | {seed} | {full.positives} | {near.positives} | "
                      f"{full.auc:.3f} | {near.auc:.3f} |", flush=True)


if __name__ == "__main__":
    main()
