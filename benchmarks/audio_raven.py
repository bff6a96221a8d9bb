"""How well `classify --format raven` finds spoken 7s in the soundscapes, with a model labeled on the clips.

    python benchmarks/audio_raven.py --digits ../shared/data/fsdd/recordings \\
        --scapes ../shared/data/fsdd/soundscapes --home H --out bench-raven

A session on the FSDD clips (BirdNET) is labeled by a simulated user answering "is this a 7?" for
`--pages` pages of `--strategy` (hunt_refine); its model is exported, then `fastlabel classify --format
raven` writes one selection table per soundscape. A selection is right when it overlaps a placed 7
(soundscapes.csv); a placed 7 is found when a selection overlaps it. Prints precision and recall of
the selections at the model's threshold, and writes the tables under --out.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np

from fastlabel.config import Config
from fastlabel.model.artifact import write_artifact
from fastlabel.model.encoders import media_spec
from fastlabel.model.versions import export_version
from fastlabel.session import LabelingSession
from fastlabel.workspace import open_pool

DIGIT = "7"


def label_clips(pool, pages: int, page_size: int, seed: int, strategy: str) -> LabelingSession:
    truth = {row["file"]: row["digit"] == DIGIT for row in csv.DictReader((pool.config.audio.parent / "labels.csv").open())}
    y = np.array([truth[Path(pool.source.describe(i)["name"]).name] for i in range(len(pool.source))], dtype=int)
    session = LabelingSession(pool.embeddings, seed=seed, encoder_id=pool.encoder.id, data_id=pool.source.fingerprint())
    for _ in range(pages):
        batch = session.next_batch(strategy, page_size)
        session.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
    return session


def overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])


def read_tables(folder: Path) -> dict[str, list[tuple[float, float]]]:
    found = {}
    for table in folder.glob("*.Table.1.selections.txt"):
        rows = list(csv.DictReader(table.open(), delimiter="\t"))
        found[table.name.split(".Table.")[0]] = [(float(r["Begin Time (s)"]), float(r["End Time (s)"])) for r in rows]
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--digits", type=Path, required=True)
    p.add_argument("--scapes", type=Path, required=True)
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--pages", type=int, default=10)
    p.add_argument("--page-size", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--strategy", default="hunt_refine", help="how the simulated user's pages are chosen")
    p.add_argument("--out", type=Path, default=Path("bench-raven"))
    args = p.parse_args()
    pool = open_pool(Config(home=args.home, audio=args.digits, encoder="birdnet"))
    session = label_clips(pool, args.pages, args.page_size, args.seed, args.strategy)
    export = export_version(session, pool.encoder, media=media_spec(pool.source))
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / "spoken-7.safetensors"
    write_artifact(model, export.tensors, export.metadata)
    tables = args.out / "tables"
    subprocess.run([sys.executable, "-m", "fastlabel", "classify", str(model), "--audio", str(args.scapes),
                    "--format", "raven", "--out", str(tables), "--home", str(args.home)], check=True)
    truth: dict[str, list[tuple[float, float]]] = {}
    for row in csv.DictReader((args.scapes.parent / "soundscapes.csv").open()):
        if row["digit"] == DIGIT:
            truth.setdefault(Path(row["file"]).stem, []).append((float(row["start_s"]), float(row["end_s"])))
    found = read_tables(tables)
    selections = [(f, s) for f, spans in found.items() for s in spans]
    right = sum(any(overlaps(s, t) for t in truth.get(f, [])) for f, s in selections)
    placed = [(f, t) for f, spans in truth.items() for t in spans]
    hit = sum(any(overlaps(s, t) for s in found.get(f, [])) for f, t in placed)
    labels = len(session.state.labels)
    print(f"model: {labels} labels on the clips ({session.state.n_positive} positive), threshold {export.metadata['threshold']}")
    print(f"selections: {len(selections)}, of which {right} overlap a placed 7: precision "
          f"{right / max(1, len(selections)):.2f}")
    print(f"placed 7s: {len(placed)}, of which {hit} overlapped by a selection: recall {hit / max(1, len(placed)):.2f}")


if __name__ == "__main__":
    main()
