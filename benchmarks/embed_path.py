"""`fastlabel embed`'s own path against benchmarks/embedding.py's ONNX Runtime pipeline, interleaved, on the
same sprite tiles, each run in a fresh process.

Runs per round (the order rotates between rounds, so a busy machine hurts them alike):

- `embed, new home`: `python -m fastlabel embed --encoder imagenet` into a fresh home, the exported
  ONNX graph found in the machine-wide graph cache (any start after the first on this machine);
- `embed, first start`: the same with no graph anywhere (FASTLABEL_GRAPH_CACHE=""), so it exports;
- `benchmark pipeline`: ImagenetEncoder.encode_images on the sprite, timed as benchmarks/embedding.py
  times it (the forward pass only: the graph ready, the process warm).

For the embed runs it reports the images/s of the command's own log line ("Embedded N images ... in S s":
the encoder's work, graph loading or export included) and of the whole command (imports, sprite decode,
cache write, index). For the pipeline, the encode alone.

Run idle: PYTHONPATH=. .venv/bin/python benchmarks/embed_path.py --sprite ../shared/data/celeba1k/sprite.png \
    --grid 40x25 --rounds 3
Smoke (a few tiles): PYTHONPATH=. .venv/bin/python benchmarks/embed_path.py --tiles 32 --rounds 1
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PIPELINE = """
import json, sys, time
from fastlabel.data.sources import SpriteSheet
from fastlabel.embeddings.imagenet import ImagenetEncoder
sprite, grid, cache = sys.argv[1:4]
source = SpriteSheet(sprite, grid)
encoder = ImagenetEncoder(device="cpu", cache_dir=cache)
encoder.onnx  # the graph ready before the clock starts, as benchmarks/embedding.py has it
encoder.encode_images(SpriteSheet(sprite, grid, count=min(64, len(source))))  # warm-up, as there
start = time.perf_counter()
encoder.encode_images(source)
print(json.dumps({"n": len(source), "seconds": time.perf_counter() - start}))
"""
LOG_LINE = re.compile(r"Embedded (\d+) images with \S+ in ([\d.]+) s")


def demo_sprite(folder: Path, tiles: int) -> tuple[Path, str]:
    """The first `tiles` demo faces (whole rows of 30) as a sprite of their own, for a smoke run."""
    from PIL import Image

    from fastlabel.data import make_demo

    demo = make_demo(folder / "demo")
    rows = max(1, -(-tiles // 30))
    with Image.open(demo.sprite) as sheet:
        sheet.crop((0, 0, 30 * 48, rows * 48)).save(folder / "small.png")
    return folder / "small.png", f"30x{rows}"


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed:\n{done.stderr[-2000:]}")
    return seconds, done.stdout + done.stderr


def embed_run(sprite: Path, grid: str, home: Path, graphs: str, env: dict[str, str]) -> dict[str, float]:
    seconds, output = run([sys.executable, "-m", "fastlabel", "embed", "--sprite", str(sprite), "--grid", grid,
                           "--encoder", "imagenet", "--device", "cpu", "--home", str(home)],
                          {**env, "FASTLABEL_GRAPH_CACHE": graphs})
    found = LOG_LINE.search(output)
    if not found:
        raise SystemExit(f"no 'Embedded ...' line in the output of fastlabel embed:\n{output[-2000:]}")
    n, encode = int(found.group(1)), float(found.group(2))
    return {"n": n, "encode": n / encode, "command": n / seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sprite", type=Path, help="sprite sheet (default: a few generated demo faces)")
    p.add_argument("--grid", help="its COLSxROWS")
    p.add_argument("--tiles", type=int, default=60, help="without --sprite: demo faces to use (default 60)")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fastlabel-embed-path-"))
    sprite, grid = (args.sprite, args.grid) if args.sprite else demo_sprite(work, args.tiles)
    if not grid:
        raise SystemExit("--grid is needed with --sprite")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path.cwd()), os.environ.get("PYTHONPATH", "")])}
    graphs = work / "graphs"
    seed = work / "seed-home"
    embed_run(sprite, grid, seed, str(graphs), env)  # exports once into the machine-wide cache of this run
    print(f"{sprite} ({grid}); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.rounds} rounds",
          flush=True)

    def new_home(k: int) -> dict[str, float]:
        return embed_run(sprite, grid, work / f"home-{k}", str(graphs), env)

    def first_start(k: int) -> dict[str, float]:
        return embed_run(sprite, grid, work / f"first-{k}", "", env)

    def pipeline(k: int) -> dict[str, float]:
        _, output = run([sys.executable, "-c", PIPELINE, str(sprite), grid, str(seed / "cache")], env)
        body = json.loads(output.strip().splitlines()[-1])
        return {"n": body["n"], "encode": body["n"] / body["seconds"]}

    runs = {"embed, new home (graph shared)": new_home, "embed, first start (exports the graph)": first_start,
            "benchmark pipeline (encode only)": pipeline}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
    names = list(runs)
    for k in range(args.rounds):
        for name in names[k % len(names):] + names[:k % len(names)]:
            results[name].append(runs[name](k))
            print(f"round {k}: {name}: {results[name][-1]}", flush=True)
    print("\n| run | images/s, encoder's own log line (median) | images/s, whole command (median) |\n|---|---:|---:|")
    for name, rows in results.items():
        encode = np.median([r["encode"] for r in rows])
        command = np.median([r["command"] for r in rows]) if "command" in rows[0] else float("nan")
        print(f"| {name} | {encode:.1f} | {'' if np.isnan(command) else f'{command:.1f}'} |")


if __name__ == "__main__":
    main()
