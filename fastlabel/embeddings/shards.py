"""Embedding shards on disk, in the layout clip-retrieval writes, so either tool reads the other's output.

    DIR/img_emb/img_emb_0.npy, img_emb_1.npy, ...        (rows, D) float16/32 per shard
    DIR/metadata/metadata_0.parquet, ...                 one row per embedding: image_path (and id)
    DIR/fastlabel_shards.json                            ours only: encoder id, source, counts

Shard numbers may be zero-padded; they must run 0..n-1 with no gap. Rows find their items by
`id` (when the shards were written for this very source), else by `image_path` (matched against
an image folder's files), else by position (no metadata, as many rows as items). Anything that
does not line up is refused with a DataError that says what is wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fastlabel.errors import DataError
from fastlabel.files import write_atomic

if TYPE_CHECKING:
    from fastlabel.data.sources import ImageSource

EMB_DIR, META_DIR, MANIFEST = "img_emb", "metadata", "fastlabel_shards.json"
_SHARD = re.compile(r"^img_emb_(\d+)\.npy$")
_META = re.compile(r"^metadata_(\d+)\.parquet$")
_DTYPES = (np.float16, np.float32, np.float64)
NORMALISE_CHUNK = 65_536


@dataclass(frozen=True)
class ShardSet:
    """A checked shard folder: array and metadata files in shard order, their row counts and width."""

    root: Path
    arrays: tuple[Path, ...]
    metadata: tuple[Path, ...]  # empty, or one per array
    rows: tuple[int, ...]
    dim: int
    manifest: dict[str, Any]

    @property
    def total(self) -> int:
        return sum(self.rows)

    @property
    def encoder_id(self) -> str | None:
        return self.manifest.get("encoder_id")

    def digest(self) -> str:
        """Identity of the folder's content from names, sizes and mtimes (no full read)."""
        h = hashlib.sha256(b"fastlabel-shards-v1\0")
        for path in (*self.arrays, *self.metadata):
            stat = path.stat()
            h.update(f"{path.relative_to(self.root).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        h.update(json.dumps(self.manifest, sort_keys=True).encode())
        return h.hexdigest()


def is_shard_folder(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / EMB_DIR).is_dir()


def _numbered(folder: Path, pattern: re.Pattern[str], what: str) -> list[Path]:
    found: dict[int, Path] = {}
    for path in folder.iterdir():
        match = pattern.match(path.name)
        if match:
            number = int(match.group(1))
            if number in found:
                raise DataError(f"{folder} has two {what} files numbered {number}: {found[number].name}, {path.name}")
            found[number] = path
    missing = sorted(set(range(len(found))) - set(found))
    if missing:
        raise DataError(f"{folder} is missing {what} shard {missing[0]} (shards must run 0..{len(found) - 1} "
                        f"with no gap; found {sorted(found)[:10]})")
    return [found[k] for k in range(len(found))]


def _header(path: Path) -> tuple[int, int, np.dtype]:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read shard {path} as a .npy array: {exc}") from exc
    if array.ndim != 2 or array.shape[1] == 0:
        raise DataError(f"shard {path} must hold a 2-D (rows, D) array; it has shape {array.shape}")
    if array.dtype not in _DTYPES:
        raise DataError(f"shard {path} must hold float16/32/64 numbers; it holds {array.dtype}")
    return int(array.shape[0]), int(array.shape[1]), array.dtype


def _parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError(f"reading shard metadata (.parquet) needs pyarrow ({exc}): "
                        "pip install 'fastlabel[distributed]' or pip install pyarrow") from exc
    return pq


def scan_shards(root: str | Path) -> ShardSet:
    """Check a shard folder without reading the embeddings: numbering, alignment, widths, manifest."""
    root = Path(root).expanduser()
    if not is_shard_folder(root):
        raise DataError(f"{root} is not an embedding shard folder (no {EMB_DIR}/ inside)")
    arrays = _numbered(root / EMB_DIR, _SHARD, "img_emb")
    if not arrays:
        raise DataError(f"{root / EMB_DIR} holds no img_emb_<n>.npy shards")
    headers = [_header(p) for p in arrays]
    dims = sorted({d for _, d, _ in headers})
    if len(dims) > 1:
        first = {d: arrays[[h[1] for h in headers].index(d)].name for d in dims}
        raise DataError(f"{root} mixes embedding widths {dims} ({', '.join(f'{n}: {d}' for d, n in first.items())}); "
                        "all shards must come from one encoder")
    metadata: list[Path] = []
    if (root / META_DIR).is_dir():
        metadata = _numbered(root / META_DIR, _META, "metadata")
        if len(metadata) != len(arrays):
            raise DataError(f"{root} has {len(arrays)} img_emb shards but {len(metadata)} metadata shards; "
                            "each embedding shard needs its metadata shard")
        pq = _parquet()
        for array, meta, (rows, _, _) in zip(arrays, metadata, headers):
            meta_rows = pq.ParquetFile(meta).metadata.num_rows
            if meta_rows != rows:
                raise DataError(f"{array.name} has {rows} rows but {meta.name} has {meta_rows}; the shards are misaligned")
    manifest: dict[str, Any] = {}
    if (root / MANIFEST).is_file():
        try:
            manifest = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read {root / MANIFEST}: {exc}") from exc
        if not isinstance(manifest, dict):
            raise DataError(f"{root / MANIFEST} must hold a JSON object")
        if manifest.get("dim") not in (None, dims[0]):
            raise DataError(f"{root / MANIFEST} says {manifest['dim']}-d embeddings but the shards are {dims[0]}-d")
    return ShardSet(root, tuple(arrays), tuple(metadata), tuple(h[0] for h in headers), dims[0], manifest)


def _columns(shards: ShardSet) -> tuple[np.ndarray | None, list[str] | None]:
    """The rows' `id` and `image_path` columns over all shards (None where absent)."""
    if not shards.metadata:
        return None, None
    pq = _parquet()
    tables = [pq.read_table(meta) for meta in shards.metadata]
    ids = paths = None
    if all("id" in t.column_names for t in tables):
        ids = np.concatenate([np.asarray(t.column("id").to_numpy(), dtype=np.int64) for t in tables])
    if all("image_path" in t.column_names for t in tables):
        paths = [str(p) for t in tables for p in t.column("image_path").to_pylist()]
    return ids, paths


def _rows_by_path(paths: list[str], source: ImageSource) -> np.ndarray:
    """For each item of an image folder, the row whose image_path names its file."""
    root = Path(getattr(source, "root")).resolve()
    where: dict[str, int] = {}
    for row, text in enumerate(paths):
        path = Path(text)
        if path.is_absolute():
            try:
                path = path.resolve().relative_to(root)
            except ValueError:
                continue
        where[path.as_posix()] = row
    item_paths = list(getattr(source, "paths"))
    order = np.fromiter((where.get(p, -1) for p in item_paths), dtype=np.int64, count=len(item_paths))
    missing = np.flatnonzero(order < 0)
    if missing.size:
        examples = ", ".join(item_paths[i] for i in missing[:3])
        raise DataError(f"{missing.size} of the {len(item_paths)} images under {root} have no embedding in the "
                        f"shards (e.g. {examples}); embed the folder again")
    return order


def row_order(shards: ShardSet, source: ImageSource) -> np.ndarray | None:
    """Row index of each item (None: rows are already in item order); DataError when they cannot match."""
    n = len(source)
    ids, paths = _columns(shards)
    same_source = shards.manifest.get("source_fingerprint") == source.fingerprint()
    if ids is not None and same_source:
        if ids.size != n or np.any(np.sort(ids) != np.arange(n)):
            raise DataError(f"{shards.root}: the shards' ids do not cover items 0..{n - 1} exactly once")
        order = np.empty(n, np.int64)
        order[ids] = np.arange(n)
        return None if np.array_equal(order, np.arange(n)) else order
    if paths is not None and hasattr(source, "paths"):
        order = _rows_by_path(paths, source)
        return None if np.array_equal(order, np.arange(n)) and shards.total == n else order
    if shards.manifest.get("source_fingerprint") not in (None, source.fingerprint()):
        raise DataError(f"{shards.root} was written for other data ({shards.manifest.get('source', '?')}), "
                        f"not {getattr(source, 'name', 'this source')}, and its rows cannot be matched by file name")
    if shards.total != n:
        raise DataError(f"{shards.root} holds {shards.total} embeddings but the data has {n} images; "
                        "without ids or image paths they must match one row per image, in item order")
    return None


def load_rows(shards: ShardSet, order: np.ndarray | None, progress=None) -> np.ndarray:
    """The embeddings as unit-length float32 rows in item order, read shard by shard."""
    n = shards.total if order is None else order.size
    out = np.empty((n, shards.dim), dtype=np.float32)
    if order is None:
        start = 0
        for path, rows in zip(shards.arrays, shards.rows):
            out[start:start + rows] = np.load(path, mmap_mode="r")
            start += rows
            if progress is not None:
                progress(start, n)
    else:
        bounds = np.cumsum((0, *shards.rows))
        for k, path in enumerate(shards.arrays):
            wanted = np.flatnonzero((order >= bounds[k]) & (order < bounds[k + 1]))
            if wanted.size:
                out[wanted] = np.load(path, mmap_mode="r")[order[wanted] - bounds[k]]
            if progress is not None:
                progress(int(bounds[k + 1]), int(bounds[-1]))
    for start in range(0, n, NORMALISE_CHUNK):
        block = out[start:start + NORMALISE_CHUNK]
        if not np.isfinite(block).all():
            bad = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise DataError(f"{shards.root}: NaN or infinite values (first at item {bad})")
        block /= np.maximum(np.linalg.norm(block, axis=1, keepdims=True), np.finfo(np.float32).tiny)
    return out


def write_shard(root: Path, index: int, embeddings: np.ndarray, ids: np.ndarray, paths: list[str] | None) -> None:
    """One img_emb_<index>.npy and its metadata_<index>.parquet (id, and image_path when known)."""
    import pyarrow as pa

    pq = _parquet()
    (root / EMB_DIR).mkdir(parents=True, exist_ok=True)
    (root / META_DIR).mkdir(parents=True, exist_ok=True)
    array = np.ascontiguousarray(embeddings, dtype=np.float32)
    write_atomic(root / EMB_DIR / f"img_emb_{index}.npy", lambda handle: np.save(handle, array, allow_pickle=False))
    columns = {"id": pa.array(np.asarray(ids, dtype=np.int64))}
    if paths is not None:
        columns["image_path"] = pa.array(paths, type=pa.string())
    write_atomic(root / META_DIR / f"metadata_{index}.parquet", lambda handle: pq.write_table(pa.table(columns), handle))


def write_manifest(root: Path, **fields: Any) -> None:
    write_atomic(root / MANIFEST, json.dumps({"format": 1, **fields}, indent=2).encode())
