"""Restart time after a long session: with head snapshots against a full replay, on one journal.

Labels `--pages` pages of 48 (hybrid, answers from a CelebA attribute) into a journal, then times
opening that journal as a server restart does: from the newest head snapshot (the default), and
with snapshots off (every retrain replayed). Checks both give the same probabilities.

Run: PYTHONPATH=. .venv/bin/python benchmarks/restart.py --embeddings /work/flhome/celeba10k_imagenet.npy \
        --attributes ../shared/data/celeba10k/attributes.csv --pages 150 --out /tmp/restart
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

from fastlabel.data.attributes import read_attributes
from fastlabel.events import EventLog
from fastlabel.session import LabelingSession
from fastlabel.session.snapshots import snapshot_dir


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--embeddings", required=True)
    p.add_argument("--attributes", required=True)
    p.add_argument("--attribute", default="Smiling")
    p.add_argument("--pages", type=int, default=150)
    p.add_argument("--out", required=True, help="a folder of this benchmark's own")
    args = p.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    x = np.load(args.embeddings, mmap_mode="c")
    y = read_attributes(args.attributes, len(x)).column(args.attribute).astype(int)
    journal = out / "session.jsonl"

    start = time.perf_counter()
    live = LabelingSession(x, EventLog.open(journal), seed=0)
    for _ in range(args.pages):
        page = live.next_batch("hybrid", 48)
        live.submit([(i, int(y[i])) for i in page.ids], batch_id=page.batch_id)
    labeling = time.perf_counter() - start
    live.log.close()
    snaps = sorted(snapshot_dir(journal).glob("*.safetensors"))
    print(f"labeled {len(live.state.labels)} items in {args.pages} pages: {labeling:.1f} s live; "
          f"{len(live.log)} events; snapshots: {[s.name for s in snaps]}")

    timings = {}
    sessions = {}
    for name, use in (("with snapshots", True), ("full replay (--no-snapshots)", False)):
        start = time.perf_counter()
        sessions[name] = LabelingSession(x, EventLog.open(journal), seed=0, snapshots=use)
        timings[name] = time.perf_counter() - start
        sessions[name].log.close()
    a, b = sessions.values()
    diff = float(np.max(np.abs(a.probs - b.probs)))
    for name, seconds in timings.items():
        print(f"restart {name}: {seconds:.2f} s")
    print(f"max |difference| in probabilities: {diff:.2e}; equal to the live session: "
          f"{float(np.max(np.abs(a.probs - live.probs))):.2e}")


if __name__ == "__main__":
    main()
