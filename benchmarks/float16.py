"""Float16 embeddings against float32: does the head lose AUC when the pool is stored at half the size?

The head is trained on the same labels, with the same seed, on the float32 embeddings and on the
same embeddings rounded to float16 (which is what a float16 cache holds; the learner widens each
chunk to float32 before its matmuls), and scored on the same held-out items.

Run: PYTHONPATH=. .venv/bin/python benchmarks/float16.py --embeddings /path/celeba10k_imagenet.npy \
         --attributes ../shared/data/celeba10k/attributes.csv
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.metrics import roc_auc_score

from fastlabel.data.attributes import read_attributes
from fastlabel.learner.head import Learner, use_threads

TASKS = ("Smiling", "Male", "Eyeglasses", "Wearing_Hat", "Gray_Hair", "Goatee")


def auc(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int) -> float:
    learner = Learner(x)
    learner.fit(train, y[train], seed)
    return float(roc_auc_score(y[test], learner.predict(test)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--embeddings", required=True)
    p.add_argument("--attributes", required=True)
    p.add_argument("--labels", type=int, default=2000, help="training labels per run")
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    use_threads()
    x32 = np.load(args.embeddings).astype(np.float32)
    x16 = x32.astype(np.float16).astype(np.float32)
    table = read_attributes(args.attributes, len(x32))
    print("| task | float32 AUC | float16 AUC | largest |difference| over seeds |")
    print("|---|---:|---:|---:|")
    worst = 0.0
    for task in TASKS:
        y = table.column(task).astype(np.int64)
        a32, a16 = [], []
        for seed in range(args.seeds):
            order = np.random.default_rng(seed).permutation(len(y))
            train, test = order[: args.labels], order[args.labels:]
            a32.append(auc(x32, y, train, test, seed))
            a16.append(auc(x16, y, train, test, seed))
        gap = float(np.max(np.abs(np.subtract(a32, a16))))
        worst = max(worst, gap)
        print(f"| {task} | {np.mean(a32):.4f} | {np.mean(a16):.4f} | {gap:.5f} |", flush=True)
    print(f"\nlargest AUC difference: {worst:.5f} ({args.seeds} seeds x {len(TASKS)} tasks, {args.labels} labels)")


if __name__ == "__main__":
    main()
