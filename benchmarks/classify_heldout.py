"""The exported model on people it never saw: train in the app's own loop, export, classify the
held-out identities with the real `fastlabel classify`, and compare AUCs.

    PYTHONPATH=. python benchmarks/classify_heldout.py --data ../shared/data/celeba10k \
        --embeddings /work/flhome/celeba10k_imagenet.npy --attribute Smiling --labels 480 --out bench-out/heldout

The simulated labeler (fastlabel.bench) answers pages chosen by the default strategy on the
training identities; the benchmark's test AUC is `session.score` on the held-out identities'
cached embeddings. The held-out tiles are written as PNG files (lossless, so the pixels are the
sprite's), and `fastlabel classify` re-embeds them with the model's own encoder in a fresh process.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import orjson

from fastlabel.bench.clicks import page_flips
from fastlabel.bench.metrics import held_out_scores
from fastlabel.bench.runner import make_task
from fastlabel.bench.simulate import measure
from fastlabel.bench.split import holdout_split
from fastlabel.data import SpriteSheet, read_attributes, read_identities
from fastlabel.embeddings.imagenet import ImagenetEncoder
from fastlabel.model import Classifier, write_artifact
from fastlabel.model.versions import export_version
from fastlabel.session import LabelingSession


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="folder with sprite.jpg, attributes.csv, identities.csv")
    ap.add_argument("--grid", default="100x100")
    ap.add_argument("--embeddings", type=Path, required=True, help="cached imagenet embeddings, rows = tile order")
    ap.add_argument("--attribute", default="Smiling")
    ap.add_argument("--labels", type=int, default=480)
    ap.add_argument("--batch-size", type=int, default=48)
    ap.add_argument("--strategy", default="hybrid")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("bench-out/heldout"))
    args = ap.parse_args()

    sheet = SpriteSheet(args.data / "sprite.jpg", args.grid)
    x = np.load(args.embeddings, mmap_mode="r")
    truth = read_attributes(args.data / "attributes.csv", len(sheet)).column(args.attribute)
    people = read_identities(args.data / "identities.csv", len(sheet))
    split = holdout_split(len(sheet), people, 0.2, args.seed)
    task = make_task(np.asarray(x), truth, split.train, split.test, args.attribute, args.seed, {})

    session = LabelingSession(task.train_x, seed=args.seed, concept=args.attribute)
    clicks = 0
    while (n := len(session.state.labels)) < args.labels:
        batch = session.next_batch(args.strategy, min(args.batch_size, args.labels - n))
        answers = task.train_y[batch.ids].astype(int).tolist()
        wrong = page_flips(batch, answers)
        session.submit(tuple(zip(batch.ids, answers)), batch_id=batch.batch_id, clicks=wrong)
        clicks += wrong + 1
    bench = measure(session, task, args.strategy, clicks)

    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / f"{args.attribute}.safetensors"
    export = export_version(session, ImagenetEncoder(device="cpu"))
    size = write_artifact(model, export.tensors, export.metadata)
    api_auc = held_out_scores(task.test_y, Classifier.load(model).predict_proba(task.test_x)).auc

    folder = args.out / "heldout"
    folder.mkdir(exist_ok=True)
    for k, item in enumerate(split.test):
        path = folder / f"{k:05d}.png"
        if not path.exists():
            sheet.image(int(item)).save(path)
    rows_path = args.out / "heldout.jsonl"
    cmd = [sys.executable, "-m", "fastlabel", "classify", str(model), "--images", str(folder), "--out", str(rows_path),
           "--home", str(args.out / "home"), "--device", "cpu"]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"classify failed ({done.returncode}):\n{done.stderr[-2000:]}")
    rows = [orjson.loads(line) for line in rows_path.read_bytes().splitlines()]
    assert [r["path"] for r in rows] == [f"{k:05d}.png" for k in range(len(split.test))]
    probs = np.array([r["prob_pos"] for r in rows])
    classify_auc = held_out_scores(task.test_y, probs).auc
    summary = done.stderr.strip().splitlines()[-1]
    rate = re.search(r"\(([\d.]+) images/s\)", summary)

    print(f"{args.attribute}: {len(session.state.labels)} labels ({session.state.n_positive} positive, {clicks} clicks) "
          f"by {args.strategy} on {len(split.train)} training faces; {len(split.test)} held-out faces "
          f"({len(np.unique(people[split.test]))} identities)")
    print(f"benchmark test AUC (session.score, cached embeddings): {bench.auc:.4f}")
    print(f"Classifier.predict_proba on the same embeddings:        {api_auc:.4f}")
    print(f"fastlabel classify on the held-out PNG folder:          {classify_auc:.4f}")
    print(f"max |classify - session.score| over {len(rows)} faces: "
          f"{np.abs(probs - session.score(task.test_x)).max():.2e}")
    print(f"classify: {rate.group(1) if rate else '?'} images/s embedding+scoring, {len(rows) / wall:.1f} images/s "
          f"end to end ({wall:.0f} s with start-up); model file {size:,} bytes")
    print(f"  {summary}")


if __name__ == "__main__":
    main()
