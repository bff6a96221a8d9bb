"""Run a saved model on new images or recordings: embed them with the model's own encoder (through the
embedding cache), score, and write one row per image or per window (file, start_s, end_s), or for
recordings one Raven Pro selection table per file. Every check runs before anything is written."""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..data import ImageFolder, ImageSource
from ..data.media import AUDIO, media_of
from ..embeddings import embed_source
from ..embeddings.base import Progress
from ..errors import InvalidInput
from ..files import write_atomic
from ..workspace import window_fields
from .classifier import Classifier

FORMATS = (".jsonl", ".csv")


@dataclass(frozen=True)
class Classified:
    rows: list[dict[str, Any]]
    seconds: float  # embedding and scoring, cache hits included
    threshold: float

    @property
    def positives(self) -> int:
        return sum(r["label"] for r in self.rows)


def output_format(out: Path | None) -> str:
    """".jsonl" or ".csv" from the output name (stdout is JSONL); InvalidInput otherwise."""
    if out is None:
        return ".jsonl"
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(f"--out must end in .jsonl or .csv, got {out}")
    return suffix


def classify_source(clf: Classifier, source: ImageSource, cache_dir: Path, *, threshold: float | None = None,
                    progress: Progress | None = None) -> Classified:
    """Score every image of `source`; rows carry id, path (for folders), prob_pos and label."""
    start = time.perf_counter()
    encoder = clf.encoder  # refuses here, before any work, when it cannot be rebuilt
    embeddings = embed_source(source, encoder, cache_dir, progress=progress)
    probs = clf.scores(np.asarray(embeddings))
    seconds = time.perf_counter() - start
    t = clf.threshold if threshold is None else float(threshold)
    paths = [str(p) for p in source.paths] if isinstance(source, ImageFolder) else None
    # a folder's unreadable files and duplicates have no embedding to score
    served = source.available() if hasattr(source, "available") else np.ones(len(probs), dtype=bool)
    if media_of(source) is AUDIO:  # a window of a recording: where it is, in file order
        rows = [{**window_fields(source, i), "prob_pos": round(float(p), 6), "label": int(p >= t)}
                for i, p in enumerate(probs) if served[i]]
        rows.sort(key=lambda r: (r["file"], r["start_s"]))
        return Classified(rows, seconds, t)
    rows = [{"id": i, **({"path": paths[i]} if paths else {}), "prob_pos": round(float(p), 6), "label": int(p >= t)}
            for i, p in enumerate(probs) if served[i]]
    return Classified(rows, seconds, t)


def rows_bytes(rows: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == ".jsonl":
        return b"".join(orjson.dumps(r) + b"\n" for r in rows)
    buffer = io.StringIO()
    fields = (["file", "start_s", "end_s", "prob_pos", "label"] if rows and "file" in rows[0]
              else ["id", "path", "prob_pos", "label"] if rows and "path" in rows[0] else ["id", "prob_pos", "label"])
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    write_atomic(out, rows_bytes(rows, output_format(out)))


RAVEN_COLUMNS = ("Selection", "View", "Channel", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)",
                 "Score")


@dataclass(frozen=True)
class Selection:
    """Consecutive windows of one file at or above the threshold, merged: where they begin and end, and
    the highest P(positive) among them."""

    file: str
    begin_s: float
    end_s: float
    score: float


def selections(rows: list[dict[str, Any]]) -> dict[str, list[Selection]]:
    """Every file of window rows (file, start_s, end_s, prob_pos, label) -> its selections: windows labeled
    positive that overlap or touch are merged into one. Files with none map to an empty list."""
    out: dict[str, list[Selection]] = {}
    for row in sorted(rows, key=lambda r: (r["file"], r["start_s"])):
        found = out.setdefault(row["file"], [])
        if not row["label"]:
            continue
        last = found[-1] if found else None
        if last is not None and row["start_s"] <= last.end_s + 1e-6:
            found[-1] = Selection(last.file, last.begin_s, max(last.end_s, row["end_s"]), max(last.score, row["prob_pos"]))
        else:
            found.append(Selection(row["file"], row["start_s"], row["end_s"], row["prob_pos"]))
    return out


def raven_table(found: list[Selection], high_hz: float) -> bytes:
    """A Raven Pro selection table (tab-separated, one row per selection, on the whole band)."""
    lines = ["\t".join(RAVEN_COLUMNS)]
    for k, s in enumerate(found, start=1):
        lines.append("\t".join([str(k), "Spectrogram 1", "1", f"{s.begin_s:.3f}", f"{s.end_s:.3f}", "0.0",
                                f"{high_hz:.1f}", f"{s.score:.6f}"]))
    return ("\n".join(lines) + "\n").encode()


def raven_name(file: str) -> str:
    """Where a recording's table goes under the output folder: its relative path, as Raven names tables."""
    return f"{Path(file).with_suffix('')}.Table.1.selections.txt"


def write_raven(rows: list[dict[str, Any]], out: Path, high_hz: float) -> dict[str, int]:
    """One selection table per recording under the folder `out` (its subfolders mirrored); returns the
    number of selections written per file."""
    counts = {}
    for file, found in selections(rows).items():
        write_atomic(Path(out) / raven_name(file), raven_table(found, high_hz))
        counts[file] = len(found)
    return counts
