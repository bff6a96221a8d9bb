"""Does the review page find the labeler's mistakes? A simulated labeler that errs on purpose.

The app's loop (`LabelingSession`, hybrid pages of 48) labels `--budget` items, answering from an
attribute column but giving the wrong answer on a `--noise` share of cards (seeded). Then:

- review page 1 (`session.review`, out-of-fold disagreement): precision = the share of its cards that
  really were mistakes; the mistakes on it are corrected (`session.correct`), as a user would;
- review page 2: recall = the share of all mistakes the two pages recovered;
- against the same number of labeled items drawn uniformly at random (what a user checking labels
  without the review page would see).

Run: .venv/bin/python benchmarks/review.py --embeddings ../flhome/celeba10k_imagenet.npy \
         --attributes ../shared/data/celeba10k/attributes.csv --attribute Smiling --seeds 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from fastlabel.bench.clicks import page_flips
from fastlabel.data import read_attributes
from fastlabel.learner.head import use_threads
from fastlabel.session import LabelingSession


def label_with_mistakes(x: np.ndarray, y: np.ndarray, budget: int, page: int, noise: float,
                        seed: int) -> tuple[LabelingSession, set[int]]:
    """Label `budget` items through the app's loop; returns the session and the ids answered wrongly."""
    session = LabelingSession(x, seed=seed)
    rng = np.random.default_rng([seed, 7])
    wrong: set[int] = set()
    while len(session.state.labels) < budget:
        batch = session.next_batch("hybrid", min(page, budget - len(session.state.labels)))
        if batch.exhausted:
            break
        answers = []
        for item in batch.ids:
            label = int(y[item])
            if rng.random() < noise:
                label = 1 - label
                wrong.add(item)
            answers.append((item, label))
        session.submit(tuple(answers), batch_id=batch.batch_id,
                       clicks=page_flips(batch, [a for _, a in answers]))
    return session, wrong


def review_run(session: LabelingSession, y: np.ndarray, wrong: set[int], page: int) -> dict[str, float]:
    labeled = sorted(session.state.labels)
    rng = np.random.default_rng([session.state.seed, 11])
    pick = rng.choice(labeled, size=min(2 * page, len(labeled)), replace=False).tolist()
    random_pick, random_first = set(pick), set(pick[:page])
    start = time.perf_counter()
    first = session.review(page)
    review_ms = (time.perf_counter() - start) * 1000
    found_first = wrong & set(first.ids)
    session.correct(tuple((i, int(y[i])) for i in sorted(found_first)), origin="review", batch_id=first.batch_id)
    second = session.review(page)
    found = found_first | (wrong & set(second.ids))
    return {
        "mistakes": len(wrong),
        "precision_review_page1": len(found_first) / max(1, len(first.ids)),
        "precision_random_page1": len(wrong & random_first) / max(1, len(random_first)),
        "recall_review_2pages": len(found) / max(1, len(wrong)),
        "recall_random_2pages": len(wrong & random_pick) / max(1, len(wrong)),
        "review_page_ms": review_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embeddings", type=Path, required=True, help="N x D .npy, row i = item i")
    parser.add_argument("--attributes", type=Path, required=True)
    parser.add_argument("--attribute", default="Smiling")
    parser.add_argument("--budget", type=int, default=960)
    parser.add_argument("--page", type=int, default=48)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    use_threads()
    x = np.load(args.embeddings, mmap_mode="r").astype(np.float32)
    y = read_attributes(args.attributes, len(x)).column(args.attribute).astype(np.int64)
    rows = []
    for seed in range(args.seeds):
        session, wrong = label_with_mistakes(x, y, args.budget, args.page, args.noise, seed)
        row = review_run(session, y, wrong, args.page)
        rows.append(row)
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()), flush=True)
    print(f"\n{args.attribute}, {len(x)} items, {args.budget} labels, {args.noise:.0%} of answers wrong, "
          f"pages of {args.page}, {args.seeds} seeds (mean; min-max):")
    for key in rows[0]:
        values = [r[key] for r in rows]
        print(f"  {key}: {statistics.mean(values):.3g} ({min(values):.3g}-{max(values):.3g})")


if __name__ == "__main__":
    main()
