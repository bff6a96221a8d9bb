"""Run a saved model on new images: embed them with the model's own encoder (through the embedding
cache), score, and write one row per image. Every check runs before anything is written."""

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
from ..embeddings import embed_source
from ..embeddings.base import Progress
from ..errors import InvalidInput
from ..files import write_atomic
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
    rows = [{"id": i, **({"path": paths[i]} if paths else {}), "prob_pos": round(float(p), 6), "label": int(p >= t)}
            for i, p in enumerate(probs) if served[i]]
    return Classified(rows, seconds, t)


def rows_bytes(rows: list[dict[str, Any]], fmt: str) -> bytes:
    if fmt == ".jsonl":
        return b"".join(orjson.dumps(r) + b"\n" for r in rows)
    buffer = io.StringIO()
    fields = ["id", "path", "prob_pos", "label"] if rows and "path" in rows[0] else ["id", "prob_pos", "label"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    write_atomic(out, rows_bytes(rows, output_format(out)))
