"""Head snapshots, so a restart does not retrain once per page ever submitted.

Every `every`-th retrain of a journaled session saves the head's weights (safetensors) beside the
journal, under `<journal>.snapshots/head-<seq>.safetensors`, where `seq` is the model_trained event.
Each snapshot carries a hash of every event up to and including `seq`, and a fingerprint of the
embeddings it was trained on, so a journal that was edited, or a replay over other embeddings,
never picks up a head that does not belong to it: it falls back to a full replay. Training is
seeded by (session seed, seq) and warm-starts from the previous weights, so loading the head at
`seq` and replaying only what follows gives the same probabilities as replaying everything.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import orjson
import torch

from ..events import Event
from ..files import write_atomic

log = logging.getLogger(__name__)

FORMAT = "fastlabel-head-snapshot-v1"
SNAPSHOT_EVERY = 10
KEEP = 2
_FINGERPRINT_ROWS = 16


def snapshot_dir(journal: str | Path) -> Path:
    """Where a journal's head snapshots live."""
    journal = Path(journal)
    return journal.with_name(journal.name + ".snapshots")


class EventDigest:
    """A running sha256 over events in log order; `hexdigest()` covers every event added so far."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256(FORMAT.encode())

    def add(self, event: Event) -> None:
        self._hash.update(orjson.dumps(event.to_dict(), option=orjson.OPT_SORT_KEYS) + b"\n")

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def embeddings_fingerprint(embeddings: np.ndarray) -> str:
    """Shape plus a few rows spread over the pool: cheap, and enough to tell other embeddings apart."""
    n = int(embeddings.shape[0])
    rows = np.unique(np.linspace(0, max(n - 1, 0), num=min(n, _FINGERPRINT_ROWS)).astype(np.int64))
    h = hashlib.sha256(f"{embeddings.shape}".encode())
    h.update(np.ascontiguousarray(embeddings[rows], dtype=np.float32).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """A head as it was right after the retrain at event `seq` (`weights` empty: no head then)."""

    seq: int
    weights: dict[str, torch.Tensor]
    points: list[dict[str, Any]]  # the retrains measured so far, for the learning trend


class HeadSnapshots:
    """A folder of head snapshots for one journal."""

    def __init__(self, folder: str | Path, embeddings: np.ndarray, every: int | None = None, keep: int = KEEP):
        self.folder = Path(folder)
        self.every = every or SNAPSHOT_EVERY
        self.keep = keep
        self.fingerprint = embeddings_fingerprint(embeddings)

    def path(self, seq: int) -> Path:
        return self.folder / f"head-{seq:012d}.safetensors"

    def stored(self) -> dict[int, Path]:
        """Snapshot files by sequence number."""
        if not self.folder.is_dir():
            return {}
        found = {}
        for path in self.folder.glob("head-*.safetensors"):
            try:
                found[int(path.stem.split("-", 1)[1])] = path
            except ValueError:
                continue
        return found

    def save(self, seq: int, digest: str, weights: dict[str, torch.Tensor], points: Sequence[dict[str, Any]]) -> None:
        """Store the head at `seq`; drops all but the newest `keep`. A failed write only costs replay time."""
        from safetensors.torch import save

        meta = {"format": FORMAT, "seq": str(seq), "events_sha256": digest, "embeddings": self.fingerprint,
                "points": json.dumps(list(points))}
        tensors = {k: v.detach().to("cpu").contiguous() for k, v in weights.items()}
        try:
            write_atomic(self.path(seq), save(tensors, metadata=meta))
            for old in sorted(self.stored())[: -self.keep]:
                self.path(old).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not save a head snapshot in %s (%s); a restart will replay in full", self.folder, exc)

    def latest(self, events: Iterable[Event], fits: Callable[[dict[str, torch.Tensor]], bool] = lambda w: True
               ) -> tuple[int, Snapshot] | None:
        """(index of its event, snapshot): the newest snapshot that matches these events and embeddings
        and whose weights `fits` the head."""
        stored = self.stored()
        if not stored:
            return None
        digest, at = EventDigest(), {}
        for index, event in enumerate(events):
            digest.add(event)
            if event.seq in stored:
                at[event.seq] = (index, digest.hexdigest())
        for seq in sorted(at, reverse=True):
            snapshot = self._load(stored[seq], seq, at[seq][1])
            if snapshot is not None and fits(snapshot.weights):
                return at[seq][0], snapshot
            if snapshot is not None:
                log.warning("ignoring head snapshot at event %d: its weights do not fit this head", seq)
        log.info("no head snapshot in %s matches the journal; replaying it in full", self.folder)
        return None

    def _load(self, path: Path, seq: int, digest: str) -> Snapshot | None:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
                weights = {k: handle.get_tensor(k) for k in handle.keys()}
            problem = None
            if meta.get("format") != FORMAT or meta.get("seq") != str(seq):
                problem = "unknown format"
            elif meta.get("events_sha256") != digest:
                problem = "the events before it differ"
            elif meta.get("embeddings") != self.fingerprint:
                problem = "it was trained on other embeddings"
            points = json.loads(meta.get("points", "[]"))
        except Exception as exc:  # safetensors raises several types for a damaged file; any means "not usable"
            problem = f"unreadable ({type(exc).__name__}: {exc})"
        if problem:
            log.warning("ignoring head snapshot %s: %s", path.name, problem)
            return None
        return Snapshot(seq, weights, points)
