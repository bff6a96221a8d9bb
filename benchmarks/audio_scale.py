"""Audio at scale: how fast the app serves pages of spectrogram cards from 100 hours of recordings.

Generated recordings (written once into `--dir`, kept for the next run): `--files` FLAC files of
`--hours` each at `--rate` Hz, faint noise with a 1 kHz tone burst every 7 s. The defaults, 25 files
of 4 h at 8 kHz (2.8 GB), are 100 hours: 120,000 windows of 3 s. The app serves them with
`--encoder precomputed` (seeded random vectors, so no encoder's time is in the figures) from a fresh
home each round, as `fastlabel serve` on loopback in a subprocess, and this script times what a
person waits for:

  ready       from the start of the process to /api/state saying "ready" (headers scanned, window
              registry written, the first page's cards drawn in the background as soon as it is ready)
  first       the first page (GET /api/next_batch, 48 cards with their spectrograms), asked the moment
              the server is ready (a browser left open on the loading screen), or `--ask-after`
              seconds later (a person who opens the page once it is up)
  again       the same page asked again (a reload)
  next        submit the page, then the next page (new windows, new cards), over `--pages` pages; each
              page is submitted `--think` seconds after it arrived (a person labels 48 cards in no
              less), so the start's background work (torch's optimizer start-up, the index) goes on
              meanwhile as it would, instead of every submit racing it

Each round starts a new server on a new home (`--rounds`, medians reported), so every round's
first page is a cold one; the operating system's file cache is not dropped (the files were just
written or read), as on a machine that has seen them before.

Run (idle machine): PYTHONPATH=. .venv/bin/python benchmarks/audio_scale.py --dir /tmp/audio100h
Smoke:              PYTHONPATH=. .venv/bin/python benchmarks/audio_scale.py --dir /tmp/audio-smoke \
                        --files 2 --hours 0.05 --rounds 1 --pages 2
Delete the recordings afterwards (`rm -r DIR`) when disk is short.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

from served import Client, serving

TONE_HZ = 1000.0
TONE_EVERY_S = 7.0
TONE_S = 0.5
BLOCK_S = 600  # seconds generated and written at a time


def write_recording(path: Path, seconds: float, rate: int, seed: int) -> None:
    """Faint noise with a tone burst every TONE_EVERY_S, as 16-bit FLAC, written block by block."""
    rng = np.random.default_rng(seed)
    total = int(seconds * rate)
    burst = int(TONE_S * rate)
    tmp = path.with_suffix(".part.flac")
    with soundfile.SoundFile(str(tmp), "w", samplerate=rate, channels=1, format="FLAC", subtype="PCM_16") as out:
        for start in range(0, total, BLOCK_S * rate):
            n = min(BLOCK_S * rate, total - start)
            block = 0.003 * rng.standard_normal(n, dtype=np.float32)
            t = np.arange(start, start + n)
            phase = (t % int(TONE_EVERY_S * rate)) < burst
            block[phase] += 0.3 * np.sin(2 * np.pi * TONE_HZ * t[phase] / rate).astype(np.float32)
            out.write(block)
    tmp.rename(path)


def recordings(folder: Path, files: int, hours: float, rate: int) -> list[Path]:
    """The generated recordings, written where absent."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"rec{k:03d}.flac" for k in range(files)]
    for k, path in enumerate(paths):
        if not path.exists():
            began = time.perf_counter()
            write_recording(path, hours * 3600, rate, seed=k)
            print(f"wrote {path} ({path.stat().st_size / 2**20:.0f} MB) in {time.perf_counter() - began:.1f} s",
                  flush=True)
    return paths


def windows_of(paths: list[Path], window_s: float) -> int:
    """Windows the app will serve (hop = window): enough to cover each file."""
    total = 0
    for path in paths:
        info = soundfile.info(str(path))
        total += max(1, int(np.ceil(info.frames / info.samplerate / window_s - 1e-9)))
    return total


def one_round(base: str, started: float, pages: int, think: float, ask_after: float, seed: int) -> dict[str, object]:
    """Time the first page, the same page again, and `pages` submit -> next page rounds."""
    client = Client(base, timeout=300)
    ready = time.perf_counter() - started
    time.sleep(ask_after)
    status, raw, first = client.call("GET", "/api/next_batch")
    if status != 200:
        raise SystemExit(f"next_batch failed: {status} {raw[:200]!r}")
    page = json.loads(raw)
    _, _, again = client.call("GET", "/api/next_batch")
    rng = random.Random(seed)
    nexts: list[float] = []
    for _ in range(pages):
        time.sleep(think)
        labels = [{"id": item["id"], "label": int(rng.random() < 0.2)} for item in page["items"]]
        began = time.perf_counter()
        client.json("POST", f"/api/submit_labels?batch_id={page['batch_id']}", labels)
        status, raw, _ = client.call("GET", "/api/next_batch")
        nexts.append(time.perf_counter() - began)
        if status != 200:
            raise SystemExit(f"next_batch failed: {status} {raw[:200]!r}")
        page = json.loads(raw)
    client.close()
    return {"ready_s": ready, "first_s": first, "again_s": again, "next_s": nexts, "cards": len(page["items"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, required=True, help="where the recordings are (generated if absent)")
    parser.add_argument("--files", type=int, default=25)
    parser.add_argument("--hours", type=float, default=4.0, help="length of each recording")
    parser.add_argument("--rate", type=int, default=8000, help="sample rate of the recordings")
    parser.add_argument("--rounds", type=int, default=3, help="fresh servers, each timed from a cold start")
    parser.add_argument("--pages", type=int, default=5, help="submit -> next page rounds per server")
    parser.add_argument("--ask-after", type=float, default=0.0,
                        help="seconds from ready to asking for the first page (default: at once)")
    parser.add_argument("--think", type=float, default=2.0, help="seconds between a page and its submit")
    parser.add_argument("--dim", type=int, default=64, help="width of the random embeddings")
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    paths = recordings(args.dir, args.files, args.hours, args.rate)
    n = windows_of(paths, 3.0)
    rounds = []
    with tempfile.TemporaryDirectory(prefix="fastlabel-audio-scale-") as scratch:
        vectors = Path(scratch) / f"random-{n}x{args.dim}.npy"
        np.save(vectors, np.random.default_rng(0).standard_normal((n, args.dim), dtype=np.float32))
        for r in range(args.rounds):
            home = Path(scratch) / f"home{r}"
            serve_args = ["--audio", str(args.dir), "--encoder", "precomputed", "--embeddings", str(vectors),
                          "--batch-size", str(args.batch_size)]
            started = time.perf_counter()
            with serving(None, serve_args, home=home, ready_timeout=1800) as base:
                figures = one_round(base, started, args.pages, args.think, args.ask_after, seed=r)
            rounds.append(figures)
            nexts = ", ".join(f"{v:.2f}" for v in figures["next_s"])  # type: ignore[union-attr]
            print(f"round {r + 1}: ready {figures['ready_s']:.1f} s, first page {figures['first_s']:.2f} s, "
                  f"again {figures['again_s']:.3f} s, next pages {nexts} s", flush=True)
    load = os.getloadavg()
    summary = {
        "files": args.files, "hours_each": args.hours, "rate": args.rate, "windows": n,
        "cards_per_page": args.batch_size, "rounds": args.rounds, "pages": args.pages, "think_s": args.think, "ask_after_s": args.ask_after,
        "ready_s": statistics.median(r["ready_s"] for r in rounds),
        "first_page_s": statistics.median(r["first_s"] for r in rounds),
        "same_page_s": statistics.median(r["again_s"] for r in rounds),
        "next_page_s": statistics.median(v for r in rounds for v in r["next_s"]),  # type: ignore[union-attr]
        "next_page_max_s": max((v for r in rounds for v in r["next_s"]), default=None),  # type: ignore[union-attr]
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "load_average": [round(v, 2) for v in load],
    }
    print(f"\n{args.files} files x {args.hours:g} h at {args.rate} Hz = {n} windows of 3 s; "
          f"{args.rounds} cold starts, {args.pages} next pages each, {args.batch_size} cards a page; first page asked "
          f"{args.ask_after:g} s after ready, each page submitted {args.think:g} s after it came")
    print("| ready s | first page s | same page s | next page s (median) | next page s (max) |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| {summary['ready_s']:.1f} | {summary['first_page_s']:.2f} | {summary['same_page_s']:.3f} | "
          f"{summary['next_page_s']:.2f} | {summary['next_page_max_s']:.2f} |")
    print(f"{summary['cores']} cores ({summary['cpu']}), load average {' '.join(f'{v:.2f}' for v in load)}")
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rounds": rounds}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
