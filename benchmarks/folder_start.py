"""Time to ready for a folder of photos: a cold start, then a start after adding files.

Generates a folder of N photo-like JPEGs (and a few PNGs) of mixed sizes, starts `fastlabel serve`
on it with an empty home and times process start -> /api/state ready; adds M files and times the
next start (only those M should be embedded), then a start with nothing changed. Each start's
"Embedded ..." log line is printed, so the count of images embedded is read, not assumed.

Run: .venv/bin/python benchmarks/folder_start.py --n 2000 --add 100 --encoder imagenet
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).absolute().parent.parent / "tests"))
from live_server import free_port, wait_until_ready  # noqa: E402

SIZES = ((640, 480), (800, 600), (1024, 768), (480, 640), (1200, 400))


def photo(seed: int) -> Image.Image:
    """A textured background with a few shapes: decodes and compresses like a small photo."""
    rng = np.random.default_rng(seed)
    w, h = SIZES[seed % len(SIZES)]
    base = rng.integers(60, 200, 3)
    noise = rng.normal(0, 18, (h // 8, w // 8, 3))
    image = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(20, min(w, h) // 3))
        fill = tuple(int(v) for v in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=fill)
    return image


def write_photos(root: Path, start: int, count: int) -> None:
    for i in range(start, start + count):
        folder = root / f"class_{i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        ext = "png" if i % 20 == 0 else "jpg"
        photo(i).save(folder / f"photo_{i:05d}.{ext}", quality=88)


def timed_start(images: Path, home: Path, encoder: str, log: Path) -> tuple[float, str]:
    """Seconds from process start to ready, and the start's log lines about the folder and embedding."""
    port = free_port()
    cmd = [sys.executable, "-m", "fastlabel", "serve", "--images", str(images), "--home", str(home),
           "--encoder", encoder, "--port", str(port)]
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_until_ready(f"http://127.0.0.1:{port}", proc=proc, timeout=1800)
            seconds = time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait()
    lines = [line for line in log.read_text().splitlines() if "Embedded" in line or "since the last start" in line
             or "images found" in line]
    return seconds, "\n    ".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--add", type=int, default=100)
    parser.add_argument("--encoder", default="imagenet")
    parser.add_argument("--workdir", type=Path, help="keep the folder and home here (default: a temp dir)")
    parser.add_argument("--only", choices=("cold", "add"), help="run one half (the add half reuses --workdir)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fastlabel-folder-"))
    images, home = work / "photos", work / "home"
    if args.only != "add":
        shutil.rmtree(home, ignore_errors=True)
        if images.exists():
            shutil.rmtree(images)
        t = time.perf_counter()
        write_photos(images, 0, args.n)
        print(f"wrote {args.n} photos in {time.perf_counter() - t:.0f} s to {images}")
        cold, lines = timed_start(images, home, args.encoder, work / "start1.log")
        print(f"cold start, {args.n} files: ready in {cold:.1f} s\n    {lines}")
    if args.only == "cold":
        return
    write_photos(images, args.n, args.add)
    grown, lines = timed_start(images, home, args.encoder, work / "start2.log")
    print(f"after adding {args.add}: ready in {grown:.1f} s\n    {lines}")
    same, lines = timed_start(images, home, args.encoder, work / "start3.log")
    print(f"nothing changed: ready in {same:.1f} s\n    {lines}")


if __name__ == "__main__":
    main()
