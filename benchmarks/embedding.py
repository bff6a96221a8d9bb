"""Embedding speed and quality: images/s before and after the decode pipeline, per input size and
batch size, and whether a smaller input keeps the features' quality on 48 px CelebA tiles.

Before = the serial loop the encoder used to run (decode a batch, then run the model, on one
thread). After = fastlabel.embeddings.pipeline (decode threads ahead of the model), channels-last,
inference mode. Quality = 5-fold cross-validated AUC of a logistic regression per attribute, the
same folds for every input size, compared with 224 px (the model's native size).

Run: PYTHONPATH=. .venv/bin/python benchmarks/embedding.py --sprite ../shared/data/celeba10k/sprite.jpg \
        --attributes ../shared/data/celeba10k/attributes.csv --n 4000 --speed-n 1000
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
import torch

from fastlabel.data.attributes import read_attributes
from fastlabel.data.sources import SpriteSheet
from fastlabel.embeddings.imagenet import ImagenetEncoder, preprocess

ATTRIBUTES = ("Smiling", "Eyeglasses", "Male", "Bald", "Mustache", "Blond_Hair")


def serial_loop(encoder: ImagenetEncoder, source: SpriteSheet, batch_size: int) -> np.ndarray:
    """The loop before the pipeline: decode and preprocess a batch, then run the model, in turn."""
    out = np.empty((len(source), encoder.dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(source), batch_size):
            stop = min(start + batch_size, len(source))
            batch = torch.stack([preprocess(source.image(i)) for i in range(start, stop)])
            out[start:stop] = torch.nn.functional.normalize(encoder.features(batch).float(), dim=-1).numpy()
    return out


def timed(fn) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def cv_auc(x: np.ndarray, y: np.ndarray, seed: int = 0) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    scores = np.empty(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        model = LogisticRegression(C=1.0, max_iter=2000).fit(x[train], y[train])
        scores[test] = model.decision_function(x[test])
    return float(roc_auc_score(y, scores))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sprite", required=True)
    p.add_argument("--grid", default="100x100")
    p.add_argument("--attributes", required=True)
    p.add_argument("--n", type=int, default=4000, help="tiles for the quality check")
    p.add_argument("--speed-n", type=int, default=1000, help="tiles for the batch-size and before/after timings")
    p.add_argument("--sizes", default="224,192,160,128", help="input sizes; the first is the reference")
    p.add_argument("--reference", help="the first size's embeddings of the same sprite (.npy, rows = tile order), "
                                       "e.g. a cache file, to skip recomputing them; checked against the speed run")
    p.add_argument("--batch-sizes", default="32,64,128")
    args = p.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    full = SpriteSheet(args.sprite, args.grid, tile=48, count=args.n)
    small = SpriteSheet(args.sprite, args.grid, tile=48, count=args.speed_n)
    attrs = read_attributes(args.attributes, None)
    print(f"torch threads {torch.get_num_threads()}; {args.speed_n} tiles for speed, {args.n} for quality")

    base = ImagenetEncoder(device="cpu")
    base.model  # build once, outside the timings
    serial_loop(base, SpriteSheet(args.sprite, args.grid, tile=48, count=64), 64)  # warm-up

    # before and after, interleaved twice so a busy machine hurts both alike
    print("\n| run | images/s |\n|---|---:|")
    rates: dict[str, list[float]] = {"before (serial, 224 px, batch 64)": [], "after (pipeline, 224 px, batch 64)": []}
    for _ in range(2):
        before, s = timed(lambda: serial_loop(base, small, 64))
        rates["before (serial, 224 px, batch 64)"].append(len(small) / s)
        after, s = timed(lambda: base.encode_images(small))
        rates["after (pipeline, 224 px, batch 64)"].append(len(small) / s)
    cosine = float(np.min(np.sum(before * after, axis=1)))
    for name, values in rates.items():
        print(f"| {name} | {np.median(values):.1f} |")
    print(f"(pipeline vs serial at 224 px: min cosine {cosine:.6f})")

    sizes = [int(v) for v in args.sizes.split(",")]
    encoders = {size: ImagenetEncoder(device="cpu", input_size=size) for size in sizes}
    for enc in encoders.values():
        enc.__dict__["model"] = base.model  # same weights; the size is only the preprocessing
    print("\n| input size | batch | images/s |\n|---:|---:|---:|")
    for size in sizes:
        for batch_size in (int(v) for v in args.batch_sizes.split(",")):
            enc = encoders[size]
            enc.batch_size = batch_size
            _, s = timed(lambda: enc.encode_images(small))
            print(f"| {size} | {batch_size} | {len(small) / s:.1f} |", flush=True)

    print(f"\nquality on {args.n} tiles (5-fold logistic regression AUC; same folds for every size)")
    embeddings: dict[int, np.ndarray] = {}
    if args.reference:
        reference = np.load(args.reference, mmap_mode="r")
        check = encoders[sizes[0]].encode_images(small)
        agree = float(np.min(np.sum(check * reference[: len(small)], axis=1)))
        if agree < 0.9999:
            raise SystemExit(f"{args.reference} is not this sprite at {sizes[0]} px (min cosine {agree:.5f})")
        embeddings[sizes[0]] = np.asarray(reference[: args.n])
        print(f"{sizes[0]} px: {args.reference} (agrees with a fresh run: min cosine {agree:.6f})")
    for size in sizes:
        if size in embeddings:
            continue
        encoders[size].batch_size = 64
        embeddings[size], s = timed(lambda: encoders[size].encode_images(full))
        print(f"embedded {args.n} tiles at {size} px: {args.n / s:.1f} images/s", flush=True)
    header = " | ".join(f"{size} px" for size in sizes)
    print(f"\n| attribute (positives) | {header} |\n|---|" + "---:|" * len(sizes))
    worst = {size: 0.0 for size in sizes}
    for name in ATTRIBUTES:
        y = attrs.column(name)[: args.n].astype(int)
        aucs = {size: cv_auc(embeddings[size], y) for size in sizes}
        ref = aucs[sizes[0]]
        cells = []
        for size in sizes:
            rel = (aucs[size] - ref) / ref
            worst[size] = min(worst[size], rel)
            cells.append(f"{aucs[size]:.4f}" + ("" if size == sizes[0] else f" ({rel:+.2%})"))
        print(f"| {name} ({y.mean():.1%}) | " + " | ".join(cells) + " |", flush=True)
    print("\nworst relative AUC change vs " + f"{sizes[0]} px: "
          + ", ".join(f"{size} px {worst[size]:+.2%}" for size in sizes[1:]))


if __name__ == "__main__":
    main()
