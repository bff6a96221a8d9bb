"""`fastlabel classify` in one process against `--engine ray` in local mode: images/s on the same tiles,
the probabilities compared, and the per-worker rate a cluster's arithmetic starts from.

A model is trained first in the app's own loop (ImageNet features, two pages answered from the
attributes CSV) and exported. Then, interleaved `--rounds` times, each from an empty cache / output folder:
  one process   fastlabel.model.classify.classify_source (embedding + head, the encoder's decode pipeline)
  ray, k actors classify_with_ray with k actors (Ray started once, before the clock; its start-up is
                reported apart), shards of `--shard-rows`
Each Ray actor runs the same encoder forward with cores / k threads, so on one machine Ray's gain can
only come from running several forwards side by side; on a cluster every worker adds its own rate.

Run idle: PYTHONPATH=. .venv/bin/python benchmarks/classify_engines.py --sprite ../shared/data/celeba1k/sprite.png \
    --grid 40x25 --attributes ../shared/data/celeba1k/attributes.csv --actors 1,2 --rounds 3
Smoke: PYTHONPATH=. .venv/bin/python benchmarks/classify_engines.py --n 60 --actors 1 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np


def train_model(sprite: Path, grid: str, attributes: Path, n: int, work: Path, attribute: str) -> Path:
    """A model trained in the app's loop on the sprite (two pages answered from the attributes), exported."""
    import pandas as pd

    import fastlabel
    from fastlabel.model.artifact import write_artifact
    from fastlabel.model.versions import export_version

    truth = pd.read_csv(attributes)[attribute].to_numpy()
    with fastlabel.open(home=work / "train-home", sprite=sprite, grid=grid, encoder="imagenet", device="cpu") as ws:
        concept = ws.concept(attribute.lower())
        for _ in range(2):
            page = concept.next_page(size=min(24, n // 3))
            concept.submit(page, {i: int(truth[i]) for i in page.ids})
        export = export_version(concept.session, ws.inner.encoder, data_id=ws.inner.source.fingerprint())
    model = work / "model.safetensors"
    write_artifact(model, export.tensors, export.metadata)
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sprite", type=Path, help="sprite sheet (default: the generated demo faces)")
    p.add_argument("--grid")
    p.add_argument("--attributes", type=Path, help="0/1 ground truth CSV for training the model")
    p.add_argument("--attribute", default="Smiling")
    p.add_argument("--n", type=int, help="tiles to classify (default: the whole sprite)")
    p.add_argument("--actors", default="1,2", help="Ray actor counts to time, comma-separated")
    p.add_argument("--shard-rows", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    import ray

    from fastlabel.data import load_source, make_demo
    from fastlabel.model.classifier import Classifier
    from fastlabel.model.classify import classify_source
    from fastlabel.model.classify_ray import classify_with_ray

    work = Path(tempfile.mkdtemp(prefix="fastlabel-classify-engines-"))
    if args.sprite is None:
        demo = make_demo(work / "demo")
        args.sprite, args.grid, args.attributes = demo.sprite, demo.grid, demo.attributes
    open_source = partial(load_source, sprite=args.sprite, grid=args.grid, count=args.n)
    n = len(open_source())
    model = train_model(args.sprite, args.grid, args.attributes, n, work, args.attribute)
    graphs = work / "graphs"  # every run starts from the exported graph, as a second start would
    clf = Classifier.load(model, device="cpu", cache_dir=graphs)
    clf.encoder.onnx  # noqa: B018 -- export once, outside the clocks

    start = time.perf_counter()
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    actors = [int(a) for a in args.actors.split(",")]
    runs: dict[str, list[float]] = {"one process": [], **{f"ray, {a} actor(s)": [] for a in actors}}
    probs: dict[str, np.ndarray] = {}
    try:
        for k in range(args.rounds):
            for name in runs:
                cache = work / f"cache-{k}-{len(probs)}-{name.replace(' ', '_').replace(',', '')}"
                graph_copy = cache / "onnx"
                graph_copy.mkdir(parents=True)
                for g in (graphs / "onnx").iterdir():
                    (graph_copy / g.name).write_bytes(g.read_bytes())
                start = time.perf_counter()
                if name == "one process":
                    fresh = Classifier.load(model, device="cpu", cache_dir=cache)
                    rows = classify_source(fresh, open_source(), cache).rows
                    got = np.array([r["prob_pos"] for r in rows], dtype=np.float64)
                else:
                    a = int(name.split(", ")[1].split()[0])
                    classify_with_ray(model, open_source, cache / "shards", actors=a, shard_rows=args.shard_rows,
                                      cache_dir=cache)
                    import pyarrow.parquet as pq

                    table = pq.read_table(sorted((cache / "shards").glob("part-*.parquet")))
                    got = np.asarray(table.column("prob_pos").to_numpy(), dtype=np.float64)
                runs[name].append(n / (time.perf_counter() - start))
                probs[name] = got
                print(f"round {k}: {name}: {runs[name][-1]:.1f} images/s", flush=True)
    finally:
        ray.shutdown()
    base = probs["one process"]
    print(f"\n{n} tiles, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; Ray start-up {ray_start:.1f} s "
          f"(not in the rates)\n\n| engine | images/s (median of {args.rounds}) | rounds | max prob difference vs one "
          "process |\n|---|---:|---|---:|")
    for name, rates in runs.items():
        diff = float(np.max(np.abs(probs[name] - base))) if probs[name].shape == base.shape else float("nan")
        print(f"| {name} | {np.median(rates):.1f} | {', '.join(f'{r:.1f}' for r in rates)} | {diff:.1e} |")
    per_worker = np.median(runs[f"ray, {actors[0]} actor(s)"]) / actors[0]
    print(f"\nper-worker rate (ray, {actors[0]} actor(s), {os.cpu_count()} cores): {per_worker:.1f} images/s; "
          f"1M images on N such workers: {1e6 / per_worker / 3600:.1f} h / N (+ start-up)")


if __name__ == "__main__":
    main()
