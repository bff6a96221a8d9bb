"""Ground truth for `fastlabel bench --audio`: one 0/1 column per task, one row per window, in item order.

    python benchmarks/audio_tasks.py digits  --audio ../shared/data/fsdd/recordings --home H --out digits.csv
    python benchmarks/audio_tasks.py scapes  --audio ../shared/data/fsdd/soundscapes --home H --out scapes.csv

`digits` (the FSDD clips, one window each; labels.csv beside the folder): digit_7 (10%), speaker_theo
(17%), theo_7 (1.7%). `scapes` (the 60 s soundscapes; soundscapes.csv beside the folder): spoken_7, a
window that holds at least half of a placed 7 (a spoken digit, 0.2-0.8 s, never fills half of a 3 s
window, so "covers" is read on the digit's side). Windows are cut as `serve --audio` cuts them for the encoder (the same
registry under --home), so the rows follow the served item ids.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from fastlabel.data.sources import load_source
from fastlabel.embeddings import make_encoder

DIGIT, SPEAKER = "7", "theo"


def open_windows(audio: Path, home: Path, encoder: str, window: float | None, hop: float | None):
    coder = make_encoder(encoder, media="audio")
    return load_source(audio=audio, window_s=window or coder.window_s, hop_s=hop, sample_rate=coder.sample_rate,
                       registry_dir=home / "folders")


def digit_rows(source, labels: Path) -> list[dict[str, int]]:
    truth = {row["file"]: row for row in csv.DictReader(labels.open())}
    rows = []
    for i in range(len(source)):
        row = truth[Path(source.describe(i)["name"]).name]
        rows.append({"digit_7": int(row["digit"] == DIGIT), "speaker_theo": int(row["speaker"] == SPEAKER),
                     "theo_7": int(row["digit"] == DIGIT and row["speaker"] == SPEAKER)})
    return rows


def covered(start: float, end: float, spans: list[tuple[float, float]]) -> bool:
    """At least half of one of the placed digits lies in the window [start, end)."""
    for a, b in spans:
        overlap = max(0.0, min(end, b) - max(start, a))
        if overlap >= 0.5 * (b - a):
            return True
    return False


def scape_rows(source, truth_csv: Path) -> list[dict[str, int]]:
    spans: dict[str, list[tuple[float, float]]] = {}
    for row in csv.DictReader(truth_csv.open()):
        if row["digit"] == DIGIT:
            spans.setdefault(row["file"], []).append((float(row["start_s"]), float(row["end_s"])))
    out = []
    for i in range(len(source)):
        w = source.describe(i)
        out.append({"spoken_7": int(covered(w["start_s"], w["end_s"], spans.get(Path(w["name"]).name, [])))})
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("kind", choices=("digits", "scapes"))
    p.add_argument("--audio", type=Path, required=True)
    p.add_argument("--home", type=Path, required=True, help="the --home the bench runs with (its window registry)")
    p.add_argument("--encoder", default="birdnet")
    p.add_argument("--window", type=float)
    p.add_argument("--hop", type=float)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    source = open_windows(args.audio, args.home, args.encoder, args.window, args.hop)
    if args.kind == "digits":
        rows = digit_rows(source, args.audio.parent / "labels.csv")
    else:
        rows = scape_rows(source, args.audio.parent / "soundscapes.csv")
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["image_id", *rows[0]])
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({"image_id": i, **row})
    print(f"wrote {len(rows)} windows x {len(rows[0])} tasks to {args.out}: "
          + ", ".join(f"{k} {sum(r[k] for r in rows) / len(rows):.1%}" for k in rows[0]))


if __name__ == "__main__":
    main()
