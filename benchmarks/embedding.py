"""Embedding speed and quality: images/s of the serial torch loop, the decode pipeline with the torch
forward and the decode pipeline with the ONNX Runtime forward, per input size and batch size, and
whether a smaller input keeps the features' quality on 48 px CelebA tiles.

Serial = the loop the encoder used to run (decode a batch, then run the torch model, in turn).
Pipeline = fastlabel.embeddings.pipeline (decode threads ahead of the model); its torch forward is
channels-last in inference mode, its ONNX forward is the encoder's default on CPU
(fastlabel/embeddings/onnx_runtime.py). "Before" rows preprocess with torch ops as the encoder
used to; the encoder now does that arithmetic in numpy. The runs are interleaved `--repeats`
times, so a busy machine hurts them alike; the table gives each one's median. `--stages` first
times decoding, preprocessing and each forward pass (torch eager, torch jit, ONNX Runtime) apart.
Quality = 5-fold cross-validated AUC of a logistic regression per attribute, the same folds for
every input size, compared with 224 px (the model's native size).

Run: PYTHONPATH=. .venv/bin/python benchmarks/embedding.py --sprite ../shared/data/celeba10k/sprite.jpg \
        --attributes ../shared/data/celeba10k/attributes.csv --n 6000 --speed-n 320 --repeats 3 --stages \
        --sizes 224,192 --batch-sizes 32,64 --reference /work/flhome/celeba10k_imagenet.npy
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
import torch
from PIL import Image

from fastlabel.data.attributes import read_attributes
from fastlabel.data.sources import SpriteSheet
from fastlabel.embeddings.imagenet import ImagenetEncoder, preprocess
from fastlabel.embeddings.pipeline import run_batches

ATTRIBUTES = ("Smiling", "Eyeglasses", "Male", "Bald", "Mustache", "Blond_Hair")


def torch_preprocess(image: Image.Image, size: int = 224) -> torch.Tensor:
    """The encoder's preprocessing before it moved to numpy: the arithmetic in torch ops."""
    resized = image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32)).permute(2, 0, 1)
    return pixels / 127.5 - 1.0


def serial_loop(encoder: ImagenetEncoder, source: SpriteSheet, batch_size: int) -> np.ndarray:
    """The loop before the pipeline: decode and preprocess a batch, then run the torch model, in turn."""
    out = np.empty((len(source), encoder.dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(source), batch_size):
            stop = min(start + batch_size, len(source))
            batch = torch.stack([torch_preprocess(source.image(i)) for i in range(start, stop)])
            out[start:stop] = torch.nn.functional.normalize(encoder.features(batch).float(), dim=-1).numpy()
    return out


def old_pipeline(encoder: ImagenetEncoder, source: SpriteSheet) -> np.ndarray:
    """The decode pipeline as it was before the ONNX Runtime forward: torch preprocessing, torch model."""
    return run_batches(source, torch_preprocess, encoder.features, dim=encoder.dim, device=encoder.device,
                       batch_size=encoder.batch_size, channels_last=True)


def timed(fn) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def stage_rates(base: ImagenetEncoder, fast: ImagenetEncoder, source: SpriteSheet, repeats: int) -> None:
    """Where the time goes, per image, for one batch: decoding a tile, preprocessing it (resize to
    224 px, scale; one thread), and the forward pass of the batch in torch eager (channels-last,
    inference mode), torch jit (trace, freeze, optimize_for_inference) and ONNX Runtime.
    Interleaved `repeats` times; prints the median images/s of each stage."""
    from fastlabel.embeddings.imagenet import FeatureTower

    images = [source.image(i) for i in range(len(source))]
    batch = torch.stack([preprocess(image) for image in images])
    channels_last = batch.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        tower = FeatureTower(base.model).eval()
        jit = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(tower, channels_last[:2])))

    def eager() -> torch.Tensor:
        with torch.inference_mode():
            return base.features(channels_last)

    def jitted() -> torch.Tensor:
        with torch.no_grad():
            return jit(channels_last)

    stages = {
        "decode a 48 px tile": lambda: [source.image(i) for i in range(len(source))],
        "preprocess (bicubic to 224 px, scale in torch ops), one thread": lambda: [torch_preprocess(im) for im in images],
        "preprocess (bicubic to 224 px, scale in numpy), one thread": lambda: [preprocess(im) for im in images],
        "forward, torch eager": eager,
        "forward, torch jit (trace, freeze, optimize_for_inference)": jitted,
        "forward, ONNX Runtime": lambda: fast.onnx(batch),
    }
    want = eager().numpy()
    for name in ("forward, torch jit (trace, freeze, optimize_for_inference)", "forward, ONNX Runtime"):
        print(f"{name}: min cosine with torch eager {min_cosine_raw(stages[name]().numpy(), want):.7f}")
    rates: dict[str, list[float]] = {name: [] for name in stages}
    for name, run in stages.items():
        run()  # warm-up
    for _ in range(repeats):
        for name, run in stages.items():
            _, s = timed(run)
            rates[name].append(len(source) / s)
    print(f"\n| stage ({len(source)} images, 224 px) | images/s (median of {repeats}) |\n|---|---:|")
    for name, values in rates.items():
        print(f"| {name} | {np.median(values):.1f} |")


def min_cosine_raw(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return min_cosine(a, b)


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.min(np.sum(np.asarray(a) * np.asarray(b), axis=1)))


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
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds of the 224 px runs (and of --stages)")
    p.add_argument("--stages", action="store_true", help="first time decode, preprocess and each forward pass apart")
    args = p.parse_args()

    torch.set_num_threads(torch.get_num_threads())
    full = SpriteSheet(args.sprite, args.grid, tile=48, count=args.n)
    small = SpriteSheet(args.sprite, args.grid, tile=48, count=args.speed_n)
    attrs = read_attributes(args.attributes, None)
    print(f"torch threads {torch.get_num_threads()}; {args.speed_n} tiles for speed, {args.n} for quality; "
          f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    cache_dir = tempfile.mkdtemp(prefix="fastlabel-onnx-")  # a fresh export, timed
    base = ImagenetEncoder(device="cpu", backend="torch")
    base.model  # build once, outside the timings
    fast = ImagenetEncoder(device="cpu", cache_dir=cache_dir)
    _, s = timed(lambda: fast.onnx)
    if fast.runs_on != "onnxruntime":
        raise SystemExit("ONNX Runtime is not available here (pip install 'fastlabel[onnx]')")
    print(f"ONNX export at 224 px (once per cache): {s:.1f} s")
    warm = SpriteSheet(args.sprite, args.grid, tile=48, count=64)
    serial_loop(base, warm, 64), old_pipeline(base, warm), base.encode_images(warm), fast.encode_images(warm)  # warm-up
    if args.stages:
        stage_rates(base, fast, warm, args.repeats)

    runs = {
        "before: serial decode then torch model": lambda: serial_loop(base, small, 64),
        "before: pipeline, torch preprocessing, torch forward": lambda: old_pipeline(base, small),
        "now without onnxruntime: pipeline, numpy preprocessing, torch forward": lambda: base.encode_images(small),
        "now: pipeline, numpy preprocessing, ONNX Runtime forward": lambda: fast.encode_images(small),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    loads: list[float] = []
    outputs: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, run in runs.items():
            outputs[name], s = timed(run)
            rates[name].append(len(small) / s)
            loads.append(os.getloadavg()[0])
    medians = [float(np.median(rates[name])) for name in runs]
    serial, piped = medians[:2]
    print(f"\n{args.repeats} interleaved rounds; load average {min(loads):.1f} to {max(loads):.1f} on "
          f"{os.cpu_count()} cores")
    print("\n| run (224 px, batch 64) | images/s (median) | all rounds | vs serial | vs pipeline before |"
          "\n|---|---:|---|---:|---:|")
    for name, median in zip(runs, medians):
        every = ", ".join(f"{v:.1f}" for v in rates[name])
        print(f"| {name} | {median:.1f} | {every} | {median / serial:.2f}x | {median / piped:.2f}x |")
    serial_out = outputs[next(iter(runs))]
    print(f"min cosine with the serial torch loop on {len(small)} tiles: " + ", ".join(
        f"{name.split(': ', 1)[1]} {min_cosine(out, serial_out):.7f}" for name, out in list(outputs.items())[1:]))

    sizes = [int(v) for v in args.sizes.split(",")]
    encoders = {size: ImagenetEncoder(device="cpu", input_size=size, cache_dir=cache_dir) for size in sizes}
    for enc in encoders.values():
        enc.onnx  # export outside the timings
    print("\nONNX Runtime forward by input size and batch size (one run each)")
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
        agree = min_cosine(check, reference[: len(small)])
        if agree < 0.9999:
            raise SystemExit(f"{args.reference} is not this sprite at {sizes[0]} px (min cosine {agree:.5f})")
        embeddings[sizes[0]] = np.asarray(reference[: args.n])
        print(f"{sizes[0]} px: {args.reference} (agrees with a fresh run: min cosine {agree:.7f})")
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
