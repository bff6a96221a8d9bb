"""Embedding speed of the audio encoders: windows/s and times real time, through the product's own path.

A folder of recordings is opened as the app opens it (AudioFolder at the encoder's window and rate)
and embedded with `embed_source` into a fresh cache, so the time covers reading, mixing, resampling,
the features and the cache write: what a user waits for. The model load (BirdNET's interpreter and
classifier) is timed apart, then every encoder is run `--repeats` times, interleaved, so a busy
machine hurts them alike; the table gives each one's median. Real time = seconds of recording
covered (windows x window length, hop = window) / wall seconds.

Run (idle machine): PYTHONPATH=. .venv/bin/python benchmarks/audio_embed.py \
        --audio ../shared/data/fsdd/soundscapes --encoders logmel,birdnet --repeats 3
Smoke: add --files 1 --repeats 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from fastlabel.data.audio import AudioFolder
from fastlabel.embeddings import embed_source
from fastlabel.embeddings.registry import make_encoder


def subset(folder: Path, files: int | None, into: Path) -> Path:
    """The folder itself, or a copy of its first `files` recordings."""
    if files is None:
        return folder
    into.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in folder.iterdir() if p.is_file())[:files]:
        shutil.copy(path, into / path.name)
    return into


def run(encoder_name: str, folder: Path, work: Path) -> dict[str, float]:
    """Open, load the model, embed into a fresh cache; seconds of each part."""
    started = time.perf_counter()
    encoder = make_encoder(encoder_name, media="audio")
    if hasattr(type(encoder), "model"):  # the model loads on first use; time it apart
        encoder.model  # noqa: B018
    loaded = time.perf_counter()
    source = AudioFolder(folder, window_s=encoder.window_s, sample_rate=encoder.sample_rate)
    cache = Path(tempfile.mkdtemp(dir=work))
    opened = time.perf_counter()
    rows = embed_source(source, encoder, cache)
    done = time.perf_counter()
    shutil.rmtree(cache, ignore_errors=True)
    windows = len(source)
    embed_s = done - opened
    return {"windows": windows, "dim": int(rows.shape[1]), "load_s": loaded - started, "open_s": opened - loaded,
            "embed_s": embed_s, "windows_per_s": windows / embed_s,
            "x_real_time": windows * encoder.window_s / embed_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, default=Path("../shared/data/fsdd/soundscapes"))
    parser.add_argument("--encoders", default="logmel,birdnet")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=None, help="only the first N recordings (a smoke run)")
    parser.add_argument("--out", type=Path, default=Path("bench-out/audio_embed.json"))
    args = parser.parse_args()
    names = [n.strip() for n in args.encoders.split(",") if n.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder = subset(args.audio, args.files, work / "audio")
        results: dict[str, list[dict[str, float]]] = {n: [] for n in names}
        for round_ in range(args.repeats):
            for name in names:
                result = run(name, folder, work)
                results[name].append(result)
                print(f"round {round_ + 1} {name}: {result['windows']} windows in {result['embed_s']:.2f} s "
                      f"({result['windows_per_s']:.1f} windows/s, {result['x_real_time']:.1f}x real time; "
                      f"model load {result['load_s']:.2f} s)", flush=True)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print("| encoder | windows | dim | model load s | windows/s (median) | x real time (median) | rounds (windows/s) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, runs in results.items():
        rates = [r["windows_per_s"] for r in runs]
        print(f"| {name} | {runs[0]['windows']} | {runs[0]['dim']} | {statistics.median(r['load_s'] for r in runs):.2f} "
              f"| {statistics.median(rates):.1f} | {statistics.median(r['x_real_time'] for r in runs):.1f} "
              f"| {', '.join(f'{v:.1f}' for v in rates)} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"audio": str(args.audio), "files": args.files, "cores": os.cpu_count(),
                                    "results": results}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
