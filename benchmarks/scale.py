"""Scale: how the labeling loop holds up at 30k, 100k, 300k and 1M items.

For each pool size, in its own process (so peak RSS is that size's alone), through the Python API
(`LabelingSession`) on embeddings memory-mapped from .npy as the cache hands them out:
  open      map the embeddings and start the session (with torch's warm-up, as the workspace does)
  first     the first page (hunt_refine, the default strategy), before any label
  index     until the clustering and neighbour index, fitted in the background from the first
            page on, are ready (a person labels the first page meanwhile; no page waits for it)
  round     submit a page -> the next page is back (p50/p95 over the labeling rounds, the first
            of which trains from scratch); then, untimed as a person's labeling would be, the
            wait until a large pool's background pass has scored every item ("scored")
  next      next_batch p50/p95 per strategy, with labels in place
  rss       peak resident memory of the process
The 30k pool is the seed's shape: a 200 x 150 sprite of 48 px tiles assembled from CelebA 10k
(each face three times), with the ImageNet encoder's embeddings: the 10k faces' cached rows
(`--celeba-embeddings`, checked against a fresh embedding of a few tiles) repeated three times;
`--cold` also times its cold start (embed all 30k + open + first page) through the workspace.
`--sizes manifest100k` (any size after "manifest") times a manifest of that many rows through the
workspace: a CSV of distinct ids naming 256 small generated PNGs in turn (so every id is its own item
while the embedding runs once per file), read, registered, embedded, opened, first page; then a restart
(registry and embedding cache hit) and its first page. Larger pools
are synthetic, clustered, unit-length 512-d rows, stored as the embedding cache stores them
(float32, or float16 above 1 GB of float32: the 1M pool). Answers come from a planted concept
(a few clusters positive), so the head has something to learn.

Run: PYTHONPATH=. .venv/bin/python benchmarks/scale.py --home /tmp/scale-home --sizes 30k,100k,1M --cold
     PYTHONPATH=. .venv/bin/python benchmarks/scale.py --home /tmp/scale-home --sizes manifest100k
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT = "hunt_refine"  # the train goal's strategy (learner/goals.py)
STRATEGIES = (DEFAULT, "kmeans", "borderline", "random", "verify_positives")
PAGE = 48
DIM = 512
CLUSTERS = 200


def synthetic(path: Path, n: int, seed: int = 0) -> Path:
    """Clustered unit rows written chunk by chunk (never all in memory), plus their cluster ids."""
    if path.exists() and path.with_suffix(".clusters.npy").exists():
        return path
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    from fastlabel.embeddings.cache import stored_dtype  # as the embedding cache would store them

    out = np.lib.format.open_memmap(path.with_suffix(".tmp.npy"), mode="w+", dtype=stored_dtype((n, DIM)),
                                    shape=(n, DIM))
    clusters = rng.integers(0, CLUSTERS, n)
    for start in range(0, n, 100_000):
        c = clusters[start:start + 100_000]
        rows = centres[c] + 1.5 * rng.standard_normal((c.size, DIM)).astype(np.float32)
        out[start:start + c.size] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    out.flush()
    del out
    np.save(path.with_suffix(".clusters.npy"), clusters)
    path.with_suffix(".tmp.npy").rename(path)
    return path


def seed_sprite(home: Path, celeba: Path) -> tuple[Path, Path]:
    """The 200 x 150 sprite (30,000 tiles of 48 px) from CelebA 10k, and its truth (Smiling)."""
    from PIL import Image

    from fastlabel.data.attributes import read_attributes

    sprite, truth = home / "celeba30k.png", home / "celeba30k_smiling.npy"
    if sprite.exists() and truth.exists():
        return sprite, truth
    src = Image.open(celeba / "sprite.jpg").convert("RGB")
    out = Image.new("RGB", (200 * 48, 150 * 48))
    for i in range(30_000):
        k = i % 10_000
        tile = src.crop((48 * (k % 100), 48 * (k // 100), 48 * (k % 100) + 48, 48 * (k // 100) + 48))
        out.paste(tile, (48 * (i % 200), 48 * (i // 200)))
    out.save(sprite)
    smiling = read_attributes(celeba / "attributes.csv", 10_000).column("Smiling").astype(np.int64)
    np.save(truth, np.tile(smiling, 3))
    return sprite, truth


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else float("nan")


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_one(embeddings_path: Path, truth: np.ndarray, rounds: int) -> dict:
    """Open, first page, rounds of submit -> next page, then per-strategy next_batch timings."""
    from fastlabel.events import EventLog
    from fastlabel.session import LabelingSession

    from fastlabel.learner.head import use_threads, warm_up

    start = time.perf_counter()
    x = np.load(embeddings_path, mmap_mode="c")
    use_threads()
    warm_up()  # as the workspace does on open (in a thread there)
    session = LabelingSession(x, EventLog(), seed=0)
    opened = time.perf_counter() - start
    page, first = timed(lambda: session.next_batch(DEFAULT, PAGE))
    # the clustering + neighbour index are fitted in the background from the first page on; a
    # person labels that page meanwhile. The rounds below run with it in place, its time is reported
    session.index.wait()
    index_s = time.perf_counter() - start - opened
    round_s: list[float] = []
    settle_s: list[float] = []
    for _ in range(rounds):
        labels = [(i, int(truth[i])) for i in page.ids]
        start = time.perf_counter()
        session.submit(labels, batch_id=page.batch_id)
        page = session.next_batch(DEFAULT, PAGE)
        round_s.append(time.perf_counter() - start)
        # the user now labels the page (seconds); meanwhile a large pool's scores are published
        # in the background: wait for that, untimed, as a person's labeling would
        session.settle()
        settle_s.append(time.perf_counter() - start)
    per_strategy = {}
    for name in STRATEGIES:
        # page sizes alternate: an unanswered page asked for again is served as it was, not recomputed
        times = [timed(lambda: session.next_batch(name, PAGE - k % 2))[1] for k in range(6)]
        per_strategy[name] = {"p50_ms": pct(times, 50), "p95_ms": pct(times, 95)}
    return {
        "items": int(x.shape[0]), "open_s": round(opened, 3), "first_page_s": round(first, 3),
        "index_s": round(index_s, 1), "dtype": str(x.dtype),
        "round_p50_ms": pct(round_s, 50), "round_p95_ms": pct(round_s, 95), "rounds": rounds,
        "scored_p50_ms": pct(settle_s, 50), "round_ms": [round(t * 1000) for t in round_s],
        "index_ready": bool(session.index.ready),
        "labels": len(session.state.labels), "next_batch": per_strategy,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def cold_start(home: Path, sprite: Path, input_size: int | None) -> dict:
    """The 30k sprite from nothing: embed (cache empty) -> open the session -> first page."""
    from fastlabel.config import Config
    from fastlabel.workspace import open_workspace

    config = Config(sprite=sprite, grid="200x150", encoder="imagenet", embed_input_size=input_size,
                    home=home / f"cold-{input_size or 224}", device="cpu")
    start = time.perf_counter()
    ws = open_workspace(config)
    opened = time.perf_counter() - start
    _, first = timed(lambda: ws.session.next_batch(DEFAULT, PAGE))
    return {"encoder": ws.encoder.id, "embed_and_open_s": round(opened, 1), "first_page_s": round(first, 3),
            "images_per_s": round(len(ws.source) / opened, 1), "total_s": round(opened + first, 1),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


MANIFEST_FILES = 256


def write_manifest(folder: Path, n: int) -> Path:
    """n rows of distinct ids over MANIFEST_FILES small PNGs (each a different colour and stripe), made once."""
    from PIL import Image, ImageDraw

    manifest = folder / "items.csv"
    if manifest.exists():
        return manifest
    rng = np.random.default_rng(0)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    for k in range(MANIFEST_FILES):
        image = Image.new("RGB", (48, 48), tuple(int(v) for v in rng.integers(0, 256, 3)))
        ImageDraw.Draw(image).rectangle((0, k % 40, 47, k % 40 + 8), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        image.save(folder / "img" / f"{k:03d}.png")
    lines = ["id,path,group"] + [f"row-{i},img/{i % MANIFEST_FILES:03d}.png,{i % 7}" for i in range(n)]
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def manifest_start(home: Path, n: int) -> dict:
    """A manifest of n rows from nothing (read, ids registered, embedded, opened, first page), then a restart."""
    from fastlabel.config import Config
    from fastlabel.workspace import open_workspace

    folder = home / f"manifest-{n}"
    manifest = write_manifest(folder, n)
    config = Config(manifest=manifest, encoder="imagenet", embed_input_size=64, home=folder / "home", device="cpu")
    out: dict = {"manifest_rows": n}
    for run in ("cold", "restart"):
        start = time.perf_counter()
        ws = open_workspace(config)
        opened = time.perf_counter() - start
        page, first = timed(lambda: ws.session.next_batch(DEFAULT, PAGE))
        assert len(page.ids) == PAGE and int(ws.source.available().sum()) == n
        out[f"{run}_open_s"], out[f"{run}_first_page_s"] = round(opened, 2), round(first, 3)
        ws.concepts.close()
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return out


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints one JSON line."""
    home = Path(args.home)
    if args.one.startswith("manifest"):
        print(json.dumps(manifest_start(home, parse_size(args.one.removeprefix("manifest")))))
        return
    if args.one == "cold":
        print(json.dumps(cold_start(home, seed_sprite(home, Path(args.celeba))[0], args.input_size)))
        return
    if args.one == "30k":
        path = home / "celeba30k_imagenet224.npy"
        truth = np.load(seed_sprite(home, Path(args.celeba))[1])
    else:
        n = parse_size(args.one)
        from fastlabel.embeddings.cache import stored_dtype

        path = synthetic(home / f"synthetic_{n}_{np.dtype(stored_dtype((n, DIM))).name}.npy", n)
        truth = (np.load(path.with_suffix(".clusters.npy")) % 10 == 0).astype(np.int64)  # 10% positive
    print(json.dumps({"pool": args.one, **run_one(path, truth, args.rounds)}))


def parse_size(text: str) -> int:
    text = text.lower()
    return int(float(text[:-1]) * (1_000_000 if text.endswith("m") else 1_000)) if text[-1] in "km" else int(text)


def embed_30k(home: Path, celeba: Path, reference: Path) -> Path:
    """The 30k sprite's embeddings: the 10k faces' rows three times, checked on a few fresh tiles."""
    from fastlabel.data.sources import SpriteSheet
    from fastlabel.embeddings.imagenet import ImagenetEncoder

    path = home / "celeba30k_imagenet224.npy"
    if path.exists():
        return path
    sprite, _ = seed_sprite(home, celeba)
    rows = np.load(reference, mmap_mode="r")
    sample = SpriteSheet(sprite, "200x150", count=30_000)
    picks = [0, 4_321, 10_000 + 17, 29_999]
    fresh = ImagenetEncoder(device="cpu").encode_images(_Picks(sample, picks))
    agree = float(np.min(np.sum(fresh * rows[[i % 10_000 for i in picks]], axis=1)))
    if agree < 0.9999:
        raise SystemExit(f"{reference} does not match the sprite's tiles (min cosine {agree:.5f})")
    np.save(path, np.tile(np.asarray(rows, dtype=np.float32), (3, 1)))
    return path


class _Picks:
    """A few items of a source, as a source."""

    def __init__(self, source, ids):
        self.source, self.ids, self.name = source, ids, "picks"

    def __len__(self) -> int:
        return len(self.ids)

    def image(self, i: int):
        return self.source.image(self.ids[i])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--home", required=True, help="a folder of this benchmark's own (sprites, caches, .npy)")
    p.add_argument("--celeba", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "celeba10k"))
    p.add_argument("--sizes", default="30k,100k,1M")
    p.add_argument("--rounds", type=int, default=15, help="submit -> next page rounds per pool")
    p.add_argument("--input-size", type=int, default=None, help="ImageNet encoder input for the cold start")
    p.add_argument("--celeba-embeddings", default="/work/flhome/celeba10k_imagenet.npy",
                   help="ImageNet (224 px) embeddings of the CelebA 10k sprite, rows = tile order")
    p.add_argument("--cold", action="store_true", help="also time the 30k sprite's cold start (embeds 30k)")
    p.add_argument("--one", help=argparse.SUPPRESS)
    args = p.parse_args()
    Path(args.home).mkdir(parents=True, exist_ok=True)
    if args.one:
        return child(args)
    runs = (["cold"] if args.cold else []) + args.sizes.split(",")
    results = []
    for what in runs:
        if what == "30k":
            embed_30k(Path(args.home), Path(args.celeba), Path(args.celeba_embeddings))
        cmd = [sys.executable, __file__, "--home", args.home, "--celeba", args.celeba, "--one", what,
               "--rounds", str(args.rounds)] + (["--input-size", str(args.input_size)] if args.input_size else [])
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"{what} failed")
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    print(report(results))


def report(results: list[dict]) -> str:
    lines = ["", f"| pool | stored as | open | first page ({DEFAULT}) | index ready | submit -> next page "
                 "p50 / p95 | whole pool scored p50 | peak RSS |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        if "pool" in r:
            lines.append(f"| {r['items']:,} | {r['dtype']} | {r['open_s']} s | {r['first_page_s']} s | {r['index_s']} s | "
                         f"{r['round_p50_ms']} / {r['round_p95_ms']} ms | {r['scored_p50_ms']} ms | {r['peak_rss_gb']} GB |")
    lines += ["", "next_batch p50 / p95 (ms), with labels in place:", "",
              "| pool | " + " | ".join(STRATEGIES) + " |", "|---|" + "---:|" * len(STRATEGIES)]
    for r in results:
        if "pool" in r:
            cells = [f"{r['next_batch'][s]['p50_ms']} / {r['next_batch'][s]['p95_ms']}" for s in STRATEGIES]
            lines.append(f"| {r['items']:,} | " + " | ".join(cells) + " |")
    for r in results:
        if "manifest_rows" in r:
            lines += ["", f"manifest of {r['manifest_rows']:,} rows: open from nothing {r['cold_open_s']} s, first page "
                          f"{r['cold_first_page_s']} s; restart {r['restart_open_s']} s, first page "
                          f"{r['restart_first_page_s']} s; peak RSS {r['peak_rss_gb']} GB"]
    for r in results:
        if "encoder" in r:
            lines += ["", f"cold start, 30k sprite ({r['encoder']}): embed + open {r['embed_and_open_s']} s "
                          f"({r['images_per_s']} images/s), first page {r['first_page_s']} s, total {r['total_s']} s, "
                          f"peak RSS {r['peak_rss_gb']} GB"]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
