"""How close are the live estimates to the truth? A simulated labeler on real faces.

The app's loop (`LabelingSession`, default strategy, pages of 50 with 2 random audit cards each)
labels the whole pool, answering from an attribute column. After 200, 400 and 600 labels, and
after each extra page of audit cards, the panel's estimates (positives still hidden among unlabeled predicted negatives, precision on
unlabeled predicted positives) are printed beside the true values.

Run: .venv/bin/python benchmarks/estimates.py --sprite ../shared/data/celeba10k/sprite.jpg \
         --grid 100x100 --attributes ../shared/data/celeba10k/attributes.csv --attribute Smiling --encoder imagenet
"""

from __future__ import annotations

import argparse

import numpy as np

from fastlabel.cli import add_data_args, config_from_args
from fastlabel.config import Config
from fastlabel.learner.goals import GOALS
from fastlabel.session.estimates import quality_estimates
from fastlabel.session import LabelingSession
from fastlabel.workspace import open_pool

CHECKPOINTS = (200, 400, 600)


def truth(session: LabelingSession, y: np.ndarray) -> tuple[int, float]:
    unlabeled = np.ones(session.n_items, bool)
    unlabeled[list(session.state.labels)] = False
    predicted = session.probs >= 0.5
    hidden = int((unlabeled & ~predicted & (y == 1)).sum())
    positives = unlabeled & predicted
    return hidden, float(y[positives].mean()) if positives.any() else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(parser)
    parser.add_argument("--attribute", default="Smiling")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--strategy", default=GOALS[Config.goal].strategy)
    parser.add_argument("--audit-pages", type=int, default=2, help="audit pages labeled after the last checkpoint")
    args = parser.parse_args()
    pool = open_pool(config_from_args(args))
    if pool.attributes is None:
        raise SystemExit("--attributes is required")
    y = pool.attributes.column(args.attribute).astype(int)
    print(f"{args.attribute} on {pool.source.name} with {pool.encoder.id}; strategy {args.strategy}, "
          f"pages of {args.batch_size}; 95% intervals")
    print("| seed | labels | audit cards | hidden positives: estimate (CI) | true | precision: estimate (CI) | true |")
    print("|---:|---:|---:|---|---:|---|---:|")
    covered = total = 0
    for seed in range(args.seeds):
        session = LabelingSession(pool.embeddings, seed=seed)
        steps = [(target, args.strategy) for target in CHECKPOINTS]
        steps += [(CHECKPOINTS[-1] + (k + 1) * args.batch_size, "audit") for k in range(args.audit_pages)]
        for target, strategy in steps:
            while len(session.state.labels) < target:
                batch = session.next_batch(strategy, min(args.batch_size, target - len(session.state.labels)))
                session.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
            est = quality_estimates(session.state, session.probs)
            hidden, precision = truth(session, y)
            h, p = est.hidden_positives, est.precision
            covered += h is not None and h.low <= hidden <= h.high
            total += 1
            h_txt = f"{h.value:.0f} ({h.low:.0f}–{h.high:.0f})" if h else "–"
            p_txt = f"{p.value:.2f} ({p.low:.2f}–{p.high:.2f})" if p else "–"
            where = f"{target}" + (" (+audit)" if strategy == "audit" else "")
            print(f"| {seed} | {where} | {est.audit_cards} | {h_txt} | {hidden} | {p_txt} | {precision:.2f} |")
    print(f"\nthe hidden-positive interval covered the truth {covered} of {total} times")


if __name__ == "__main__":
    main()
