"""Is a submit held up by a review page being computed in another tab?

One client labels pages through the app's loop (`LabelingSession.next_batch`, then `submit`: labels
-> retrain -> answer) and the wall time of each submit is measured, first with nothing else running,
then while another thread keeps computing review pages (5 out-of-fold heads each) on the same
concept (`--tab same`, a review tab beside the labeling tab) or on another concept over the same
embeddings (`--tab other`). It prints p50 / p95 of both and the difference; the review page's fold
heads are fitted off the session's lock, so the difference is only the CPU the review takes.

The pool is synthetic (unit 512-d rows, a hidden direction decides the label, about 10% positive)
unless `--embeddings FILE.npy` is given. Each session starts with `--warm` labels, so each review
page fits its heads on that many labels (review pages of `--review-size` cards, so the labeled set
lasts).

Run (idle machine): .venv/bin/python benchmarks/submit_during_review.py --items 10000 --submits 60
Smoke: .venv/bin/python benchmarks/submit_during_review.py --items 1000 --dim 32 --warm 96 --submits 4
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from fastlabel.events import EventLog
from fastlabel.learner.head import use_threads
from fastlabel.session import LabelingSession

TARGET_MS = 100  # a submit's p95 while another tab reviews may be this much slower, at most


def synthetic_pool(n: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows and labels from a hidden direction (the top tenth of the projection is positive)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    score = x @ rng.normal(size=dim).astype(np.float32)
    return x, (score >= np.quantile(score, 0.9)).astype(np.int64)


def warmed(x: np.ndarray, y: np.ndarray, labels: int, seed: int, concept: str) -> LabelingSession:
    """A session whose first `labels` labels came from random pages (answered from `y`)."""
    session = LabelingSession(x, EventLog(), seed=seed, concept=concept)
    while len(session.state.labels) < labels:
        page = session.next_batch("random", min(48, labels - len(session.state.labels)))
        session.submit([(i, int(y[i])) for i in page.ids], batch_id=page.batch_id)
    return session


def submit_times(session: LabelingSession, y: np.ndarray, submits: int, page_size: int) -> list[float]:
    """Milliseconds of each submit (labels -> retrain -> answer) of `submits` hunt_refine pages."""
    out = []
    for _ in range(submits):
        page = session.next_batch("hunt_refine", page_size)
        labels = [(i, int(y[i])) for i in page.ids]
        start = time.perf_counter()
        session.submit(labels, batch_id=page.batch_id)
        out.append((time.perf_counter() - start) * 1000)
    return out


def keep_reviewing(session: LabelingSession, size: int, stop: threading.Event, done: list[float]) -> None:
    """Compute review pages until told to stop; `done` gets each page's milliseconds."""
    while not stop.is_set():
        start = time.perf_counter()
        page = session.review(size)
        if page.exhausted:
            raise SystemExit(f"the review pages ran out ({page.message}); raise --warm or lower --review-size")
        done.append((time.perf_counter() - start) * 1000)


def percentiles(ms: list[float]) -> tuple[float, float]:
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--embeddings", help="a .npy of embeddings instead of the synthetic pool (labels stay synthetic)")
    ap.add_argument("--warm", type=int, default=960, help="labels each session starts with")
    ap.add_argument("--submits", type=int, default=60, help="submits measured per condition")
    ap.add_argument("--page", type=int, default=24)
    ap.add_argument("--review-size", type=int, default=4)
    ap.add_argument("--tab", choices=("same", "other"), default="same",
                    help="the review runs on the labeling concept (same) or on a second concept (other)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    use_threads()  # as the server runs: small torch fits on one thread
    x, y = synthetic_pool(args.items, args.dim, args.seed)
    if args.embeddings:
        x = np.load(args.embeddings, mmap_mode="r")[: args.items]
        x, y = np.ascontiguousarray(x, dtype=np.float32), y[: len(x)]
    labeling = warmed(x, y, args.warm, args.seed, "labeling")
    reviewed = labeling if args.tab == "same" else warmed(x, 1 - y, args.warm, args.seed + 1, "other")

    alone = submit_times(labeling, y, args.submits, args.page)
    stop, reviews = threading.Event(), []
    reviewer = threading.Thread(target=keep_reviewing, args=(reviewed, args.review_size, stop, reviews), daemon=True)
    reviewer.start()
    while not reviews and reviewer.is_alive():  # measure once the review loop is running
        time.sleep(0.01)
    during = submit_times(labeling, y, args.submits, args.page)
    stop.set()
    reviewer.join()

    a50, a95 = percentiles(alone)
    d50, d95 = percentiles(during)
    print(f"{len(x)} items x {x.shape[1]}, {args.warm} labels to start, pages of {args.page}, review tab: {args.tab}")
    print(f"{'submit':<28}{'n':>5}{'p50 ms':>10}{'p95 ms':>10}")
    print(f"{'no review running':<28}{len(alone):>5}{a50:>10.1f}{a95:>10.1f}")
    print(f"{'review pages in another tab':<28}{len(during):>5}{d50:>10.1f}{d95:>10.1f}")
    print(f"{'difference':<28}{'':>5}{d50 - a50:>+10.1f}{d95 - a95:>+10.1f}")
    print(f"p95 within {TARGET_MS} ms of no review running: {'yes' if d95 - a95 <= TARGET_MS else 'no'}")
    if reviews:
        r50, r95 = percentiles(reviews)
        print(f"review pages computed meanwhile: {len(reviews)} (p50 {r50:.0f} ms, p95 {r95:.0f} ms each)")


if __name__ == "__main__":
    main()
