"""A fast offline simulator of the find goal, to compare candidate rankings before the real bench.

It runs the labeling loop without the session (no journal, no held-out scoring): pages of 48
(46 chosen + 2 uniform audit cards, left out of training as the app does), the app's own head
(`Learner`, warm-started, seeded per page), and exact cosine neighbour lists of the pool computed
once. A run stops when 80% of the pool's positives are labeled (or at the budget) and prints the
labels it took as a multiple of the oracle minimum (0.8 x the pool's positives). Only the tuning
tasks and seeds belong here; the report tasks are measured with `fastlabel bench`.

`--bound` prints a ceiling instead: the labels to 80% when the pool is read in the order of a head
trained on every other fold's labels (5-fold cross-fitting, about 6,400 labels behind each score).
No setting is chosen from it, so it may run on report tasks.

    PYTHONPATH=. python benchmarks/search_sim.py --home .fastlabel --data-root ../shared/data \\
        --tasks Wearing_Hat,Eyeglasses --seeds 100,101 --policies greedy,knn5
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from fastlabel.bench.split import holdout_split
from fastlabel.bench.suite_run import open_suite_data
from fastlabel.config import Config
import fastlabel.learner.head as head_module
from fastlabel.learner.head import HeadConfig, Learner
from fastlabel.session.training import training_seed


@dataclass(frozen=True)
class Policy:
    head: float = 1.0  # weight of the head's probability
    knn: float = 0.0  # weight of the kNN posterior (gamma + sum w to positives) / (1 + sum w to labeled)
    maxsim: float = 0.0  # weight of the largest similarity to a labeled positive (its neighbour lists)
    k: int = 20
    gamma: float = 0.1
    rank: bool = False  # blend ranks (0..1) instead of raw values
    config: HeadConfig = HeadConfig()  # the head's training
    heads: int = 1  # an ensemble: the mean probability of this many heads (seeds apart)
    pseudo_negatives: int = 0  # random unlabeled items trained on as negatives (positive-unlabeled learning)
    positive_weight: float | None = 1.0  # times the balanced weight of a positive; None: no class weights


POLICIES = {  # the variants compared (benchmarks/RESULTS.md)
    "greedy": Policy(),
    "knn2": Policy(head=0.8, knn=0.2),
    "knn5": Policy(head=0.5, knn=0.5),
    "knn10": Policy(head=0.0, knn=1.0),
    "max3": Policy(head=1.0, maxsim=0.3),
    "max1": Policy(head=1.0, maxsim=1.0),
    "rankmax": Policy(head=0.5, maxsim=0.5, rank=True),
    "warm60": Policy(config=HeadConfig(warm_steps=60)),
    "scratch100": Policy(config=HeadConfig(warm_start=False, steps=100)),
    "h256": Policy(config=HeadConfig(hidden=256)),
    "wd0": Policy(config=HeadConfig(weight_decay=0.0)),
    "ens3": Policy(heads=3),
    "pu250": Policy(pseudo_negatives=250),
    "pu1000": Policy(pseudo_negatives=1000),
    "pu1000s": Policy(pseudo_negatives=1000, config=HeadConfig(warm_start=False, steps=100)),
    "pos3": Policy(positive_weight=3.0),
    "pos03": Policy(positive_weight=0.3),
    "unweighted": Policy(positive_weight=None),
}


@contextmanager
def class_weights(positive_weight: float | None) -> Iterator[None]:
    """The head's class weights for a run: the balanced ones with positives scaled, or none."""
    balanced = head_module.balanced_weights

    def weights(y: torch.Tensor) -> torch.Tensor:
        if positive_weight is None:
            return torch.ones_like(y)
        return torch.where(y > 0.5, balanced(y) * positive_weight, balanced(y))

    head_module.balanced_weights = weights
    try:
        yield
    finally:
        head_module.balanced_weights = balanced


def neighbour_table(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's k nearest other rows by cosine, and the similarities (clipped at 0)."""
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.empty((len(u), k), np.int64)
    sims = np.empty((len(u), k), np.float64)
    for a in range(0, len(u), 1024):
        s = u[a:a + 1024] @ u.T
        s[np.arange(s.shape[0]), np.arange(a, a + s.shape[0])] = -np.inf
        top = np.argpartition(-s, k, axis=1)[:, :k]
        st = np.take_along_axis(s, top, 1)
        order = np.argsort(-st, axis=1)
        ids[a:a + 1024] = np.take_along_axis(top, order, 1)
        sims[a:a + 1024] = np.clip(np.take_along_axis(st, order, 1), 0, None)
    return ids, sims


def ranks(v: np.ndarray) -> np.ndarray:
    r = np.empty(len(v))
    r[np.argsort(v, kind="stable")] = np.arange(len(v))
    return r / max(1, len(v) - 1)


def scores(policy: Policy, head: np.ndarray, labels: dict[int, int], nb: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    n = len(head)
    ids = np.fromiter(labels, np.int64)
    y = np.fromiter(labels.values(), np.float64)
    nid, nsim = nb[0][ids, :policy.k], nb[1][ids, :policy.k]
    num, den, mx = np.zeros(n), np.zeros(n), np.zeros(n)
    np.add.at(den, nid.ravel(), nsim.ravel())
    np.add.at(num, nid.ravel(), (nsim * y[:, None]).ravel())
    pos = y > 0
    if pos.any():
        np.maximum.at(mx, nid[pos].ravel(), nsim[pos].ravel())
    knn = (policy.gamma + num) / (1 + den)
    parts = [(policy.head, head), (policy.knn, knn), (policy.maxsim, mx)]
    return sum(w * (ranks(v) if policy.rank else v) for w, v in parts if w)


def run(x: np.ndarray, y: np.ndarray, nb, policy: Policy, seed: int, budget: int, page: int = 48,
        audit: int = 2, fraction: float = 0.8) -> int | None:
    rng = np.random.default_rng(seed)
    learners = [Learner(x, policy.config) for _ in range(policy.heads)]
    labels: dict[int, int] = {}
    audits: set[int] = set()
    need = int(np.ceil(fraction * y.sum() - 1e-9))
    head = None
    seq = 0
    while len(labels) < budget:
        free = np.flatnonzero(~np.isin(np.arange(len(x)), np.fromiter(labels, np.int64)))
        if head is None:
            pick = rng.choice(free, page, replace=False)
        else:
            a = rng.choice(free, audit, replace=False)
            s = scores(policy, head, {i: v for i, v in labels.items()}, nb)
            s[np.fromiter(labels, np.int64)] = -np.inf
            s[a] = -np.inf
            s = s + rng.random(len(s)) * 1e-9
            pick = np.concatenate([np.argpartition(-s, page - audit)[:page - audit], a])
            audits.update(a.tolist())
        for i in pick.tolist():
            labels[i] = int(y[i])
        if sum(labels.values()) >= need:
            return len(labels)
        train = [i for i in labels if i not in audits]
        ty = np.array([labels[i] for i in train])
        if policy.pseudo_negatives:
            free = np.flatnonzero(~np.isin(np.arange(len(x)), np.fromiter(labels, np.int64)))
            extra = rng.choice(free, min(policy.pseudo_negatives, len(free)), replace=False)
            train, ty = train + extra.tolist(), np.concatenate([ty, np.zeros(len(extra), ty.dtype)])
        seq += 1
        if 0 < ty.sum() < len(ty):
            for j, learner in enumerate(learners):
                learner.fit(np.array(train), ty, training_seed(seed + 7919 * j, seq))
            head = np.mean([learner.predict() for learner in learners], axis=0).astype(np.float64)
    return None


def crossfit_bound(x: np.ndarray, y: np.ndarray, seed: int, folds: int = 5) -> float:
    """Labels to 80% of the positives, as a multiple of the oracle minimum, when the pool is read in
    the order of a head trained on every other fold's labels: what near-perfect knowledge of the
    concept, through these embeddings and this head, would allow."""
    fold = np.random.default_rng(seed).integers(folds, size=len(y))
    score = np.empty(len(y))
    for f in range(folds):
        learner = Learner(x, HeadConfig(steps=200))
        learner.fit(np.flatnonzero(fold != f), y[fold != f], seed)
        score[fold == f] = learner.predict(np.flatnonzero(fold == f))
    found = np.cumsum(y[np.argsort(-score)])
    need = int(np.ceil(0.8 * y.sum() - 1e-9))
    return (int(np.searchsorted(found, need)) + 1) / (0.8 * y.sum())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, default=Path(".fastlabel"))
    ap.add_argument("--encoder", default="imagenet")
    ap.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    ap.add_argument("--tasks", default="Wearing_Hat")
    ap.add_argument("--seeds", default="100")
    ap.add_argument("--policies", default="greedy,knn5")
    ap.add_argument("--budget", type=int, default=2400)
    ap.add_argument("--bound", action="store_true", help="print the cross-fitted ranking's multiple only")
    args = ap.parse_args(argv)
    data = open_suite_data("celeba10k", replace(Config(), home=args.home, encoder=args.encoder), args.data_root)
    with threadpool_limits(limits=1):
        for seed in (int(s) for s in args.seeds.split(",")):
            split = holdout_split(len(data.embeddings), data.identities, 0.2, seed)
            x = data.embeddings[split.train]
            nb = None if args.bound else neighbour_table(x, 50)
            for task in args.tasks.split(","):
                y = data.columns[task][split.train]
                oracle = 0.8 * y.sum()
                if args.bound:
                    print(f"{task} seed {seed} P={int(y.sum())} cross-fitted head: "
                          f"{crossfit_bound(x, y, seed):.2f}x", flush=True)
                    continue
                for name in args.policies.split(","):
                    t0 = time.perf_counter()
                    with class_weights(POLICIES[name].positive_weight):
                        got = run(x, y, nb, POLICIES[name], seed, args.budget)
                    cell = f"{got / oracle:.2f}x ({got})" if got else "never"
                    print(f"{task} seed {seed} P={int(y.sum())} {name:10s} 80%: {cell}  "
                          f"[{time.perf_counter() - t0:.0f}s]", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
