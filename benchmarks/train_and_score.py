"""Head speed on this machine: retrain time at 100 / 1,000 / 5,000 labels and scoring time at 10k / 100k / 1M items.

512-d unit-norm embeddings with a planted linear signal stand in for CLIP features (the
head's cost depends only on the shapes). Each figure is the median of several runs.
Run: .venv/bin/python benchmarks/train_and_score.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from fastlabel.learner.head import HeadConfig, Learner, warm_up

DIM = 512


def embeddings(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, :8].sum(1) > 0).astype(np.int64)
    return x, y


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_train(config: HeadConfig, repeats: int) -> None:
    x, y = embeddings(10_000)
    print(f"retrain (hidden {config.hidden}; warm start {config.warm_steps} steps, scratch {config.steps} steps)")
    print("| labels | warm start, median ms | from scratch, median ms | test acc |")
    print("|---:|---:|---:|---:|")
    for n in (100, 1_000, 5_000):
        ids = np.arange(n)
        learner = Learner(x, config)
        learner.fit(ids[: max(n - 48, 2)], y[: max(n - 48, 2)], seed=0)  # the previous page's model
        saved = learner.state_dict()

        def warm():
            learner.head.load_state_dict(saved)
            learner.fit(ids, y[ids], seed=1)

        def scratch():
            learner.reset()
            learner.fit(ids, y[ids], seed=1)

        w, s = median_ms(warm, repeats), median_ms(scratch, max(3, repeats // 2))
        acc = float(((learner.predict(np.arange(5_000, 10_000)) >= 0.5) == y[5_000:]).mean())
        print(f"| {n:,} | {w:.1f} | {s:.1f} | {acc:.3f} |")


def bench_score(config: HeadConfig, repeats: int, sizes: list[int]) -> None:
    print("\nscoring the whole pool")
    print("| items | median ms | items/s |")
    print("|---:|---:|---:|")
    x_small, y_small = embeddings(1_000)
    for n in sizes:
        x = np.random.default_rng(1).standard_normal((n, DIM), dtype=np.float32)
        learner = Learner(x, config)
        learner.x[:1_000] = torch.from_numpy(x_small)
        learner.fit(np.arange(1_000), y_small, seed=0)
        ms = median_ms(learner.predict, repeats if n <= 100_000 else 3)
        print(f"| {n:,} | {ms:.1f} | {n / ms * 1000:,.0f} |")
        del learner, x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--max-items", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    config = HeadConfig()
    warm_up()
    bench_train(config, args.repeats)
    bench_score(config, args.repeats, [n for n in (10_000, 100_000, 1_000_000) if n <= args.max_items])


if __name__ == "__main__":
    main()
