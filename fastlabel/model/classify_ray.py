"""`fastlabel classify MODEL --engine ray --out DIR`: the model over a large source as Ray Data batch inference.

The served ids are cut into shards of `shard_rows`; each shard missing from DIR is one Ray dataset of ids
-> `map_batches` with a stateful class (each actor opens the source and loads the model, whose encoder
it builds once) -> embedding and head per batch -> `part-NNNNN.parquet` (id; path for a folder's
images, or file, start_s and end_s for windows of recordings; prob_pos, label), written atomically. A
shard file already there is skipped, so a stopped run resumes where it was; `_job.json` records what the shards were made of, and a rerun with another model, source or shard
size is refused rather than mixed in. The probabilities equal the one-process `classify`'s (the same
encoder forward and head, batch by batch).
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..data import ImageFolder
from ..data.media import AUDIO, media_of
from ..embeddings.ray_engine import SourceOpener, SubsetSource, _plan, _start, require_ray
from ..errors import InvalidInput
from ..files import file_sha256, write_atomic
from ..workspace import window_fields

log = logging.getLogger(__name__)

JOB_FILE = "_job.json"
DEFAULT_SHARD_ROWS = 100_000
DEFAULT_BATCH = 256


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


class BatchClassifier:
    """Ray Data's stateful `map_batches` class: the source and the model (with its encoder) once per actor."""

    def __init__(self, model: str, open_source: SourceOpener, threads: int, cache_dir: str | None,
                 clip_checkpoint: str | None) -> None:
        import torch

        from .classifier import Classifier

        if threads:
            torch.set_num_threads(threads)
        self.source = open_source()
        self.clf = Classifier.load(model, clip_checkpoint=clip_checkpoint, device="cpu", cache_dir=cache_dir)
        self.encoder = self.clf.encoder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = np.asarray(batch["id"], dtype=np.int64)
        embeddings = self.encoder.encode_images(SubsetSource(self.source, ids))
        return {"id": ids, "prob_pos": self.clf.scores(embeddings).astype(np.float32)}


@dataclass(frozen=True)
class RayClassified:
    out: Path
    written: list[Path]
    skipped: list[Path]
    rows: int


def job_record(model: Path, source: Any, shard_rows: int, n: int) -> dict[str, Any]:
    return {"model_sha256": file_sha256(model), "source": source.fingerprint(), "shard_rows": shard_rows, "items": n}


def check_job(out: Path, record: dict[str, Any]) -> None:
    """Refuse to resume shards made of something else; write the record for a new job."""
    path = out / JOB_FILE
    if path.is_file():
        try:
            before = json.loads(path.read_text())
        except (OSError, ValueError):
            before = None
        if before != record:
            raise InvalidInput(f"{out} holds shards of another job (model, data or --shard-rows differ); "
                               "choose a new --out folder")
        return
    if out.exists() and any(out.glob("part-*.parquet")):
        raise InvalidInput(f"{out} holds shards without a {JOB_FILE}; choose a new --out folder")
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(record, indent=2).encode())


def where_columns(source: Any, ids: np.ndarray) -> dict[str, list[Any]]:
    """What names each row's item beside its id: a folder image's path; a window's file, start_s and end_s."""
    if media_of(source) is AUDIO:
        fields = [window_fields(source, int(i)) for i in ids]
        return {name: [f[name] for f in fields] for name in ("file", "start_s", "end_s")}
    if isinstance(source, ImageFolder):
        return {"path": [str(source.paths[int(i)]) for i in ids]}
    return {}


def shard_bytes(ids: np.ndarray, probs: np.ndarray, where: dict[str, list[Any]], threshold: float) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {"id": pa.array(ids, type=pa.int64())}
    columns.update({name: pa.array(values) for name, values in where.items()})
    columns["prob_pos"] = pa.array(probs, type=pa.float32())
    columns["label"] = pa.array((probs >= threshold).astype(np.int8), type=pa.int8())
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def classify_with_ray(model: str | Path, open_source: SourceOpener, out: str | Path, *, address: str | None = None,
                      actors: int | None = None, shard_rows: int = DEFAULT_SHARD_ROWS, batch_size: int = DEFAULT_BATCH,
                      threshold: float | None = None, cache_dir: str | Path | None = None,
                      clip_checkpoint: str | Path | None = None,
                      progress: Callable[[int, int], None] | None = None) -> RayClassified:
    """Score every served item of the source with the model on Ray Data, into parquet shards under `out`."""
    from .classifier import Classifier

    if shard_rows < 1:
        raise InvalidInput(f"--shard-rows must be positive, got {shard_rows}")
    model, out = Path(model), Path(out).expanduser()
    clf = Classifier.load(model, clip_checkpoint=clip_checkpoint, device="cpu", cache_dir=cache_dir)
    clf.encoder  # noqa: B018 -- refuse here, before any worker starts, when it cannot be rebuilt
    source = open_source()
    served = np.flatnonzero(source.available()).astype(np.int64)
    check_job(out, job_record(model, source, shard_rows, int(served.size)))
    t = clf.threshold if threshold is None else float(threshold)
    chunks = [served[k:k + shard_rows] for k in range(0, served.size, shard_rows)]
    todo = [k for k in range(len(chunks)) if not (out / shard_name(k)).is_file()]
    skipped = [out / shard_name(k) for k in range(len(chunks)) if k not in todo]
    done = sum(chunks[k].size for k in range(len(chunks)) if k not in todo)
    if progress is not None:
        progress(done, int(served.size))
    written: list[Path] = []
    if todo:
        ray = require_ray()
        _start(ray, address)
        n_actors, threads, actor_cpus, gpus = _plan(ray, address, actors)
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        kwargs = {"model": str(model.resolve()), "open_source": open_source, "threads": threads,
                  "cache_dir": str(cache_dir) if cache_dir else None,
                  "clip_checkpoint": str(clip_checkpoint) if clip_checkpoint else None}
        for k in todo:
            ids = chunks[k]
            data = ray.data.from_numpy(ids).rename_columns({"data": "id"})
            scored = data.map_batches(BatchClassifier, fn_constructor_kwargs=kwargs, batch_size=batch_size,
                                      batch_format="numpy", concurrency=n_actors, num_cpus=actor_cpus, num_gpus=gpus)
            got_ids, got_probs = [], []
            for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
                got_ids.append(np.asarray(batch["id"], dtype=np.int64))
                got_probs.append(np.asarray(batch["prob_pos"], dtype=np.float32))
            order = np.concatenate(got_ids)
            if not np.array_equal(np.sort(order), np.sort(ids)):
                raise RuntimeError(f"shard {k} came back with other ids than were sent")
            probs = np.concatenate(got_probs)[np.argsort(order)]
            path = out / shard_name(k)
            ordered = np.sort(ids)
            write_atomic(path, shard_bytes(ordered, probs, where_columns(source, ordered), t))
            written.append(path)
            done += ids.size
            if progress is not None:
                progress(done, int(served.size))
    return RayClassified(out, written, skipped, int(served.size))
