"""A manifest (a CSV or Parquet table of image paths, as a data pipeline writes them) as a data source.

One row is one item: its image file (the path column; relative paths are read from the manifest's
own folder), an optional id column that names the item for good (so a file may move under it), and
any other columns, kept as the item's metadata and shown on hover. Ids stay put as rows come and go,
as for a folder (registry.py); a missing or unreadable file is skipped and listed with its reason.
"""

from __future__ import annotations

import csv
import os
import posixpath
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastlabel.data.decode import header_problem
from fastlabel.data.folder import THUMB_SIZE, ImageFolder
from fastlabel.data.registry import FoundFile, ItemRegistry, registry_file
from fastlabel.errors import DataError

PATH_COLUMNS = ("path", "file", "image", "filepath")
ID_COLUMNS = ("id",)
MANIFEST_SUFFIXES = (".csv", ".parquet")


def read_table(file: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """(column names, rows) of a CSV (read as text) or a Parquet file (needs pyarrow)."""
    suffix = file.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise DataError(f"a manifest is a .csv or .parquet file, got {file.name}")
    if not file.is_file():
        raise DataError(f"manifest {file} does not exist")
    if suffix == ".csv":
        try:
            with file.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                rows = list(reader)
                return list(reader.fieldnames or []), rows
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(f"cannot read manifest {file}: {exc}") from None
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise DataError(f"a Parquet manifest needs pyarrow ({exc}): pip install 'fastlabel[data]'") from None
    try:
        table = pq.read_table(file)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"cannot read manifest {file}: {exc}") from None
    return list(table.column_names), table.to_pylist()


def pick_column(columns: list[str], given: str | None, candidates: tuple[str, ...], what: str,
                required: bool) -> str | None:
    """The column named `given` (it must exist), else the first of `candidates` present (any case)."""
    if given is not None:
        if given not in columns:
            raise DataError(f"the manifest has no {what} column {given!r}; its columns: {', '.join(columns)}")
        return given
    lower = {c.lower(): c for c in columns}
    found = next((lower[c] for c in candidates if c in lower), None)
    if found is None and required:
        raise DataError(f"no {what} column in the manifest (looked for {', '.join(candidates)}); its columns: "
                        f"{', '.join(columns)}; name it with --path-column")
    return found


def normalised(path: str) -> str:
    """A path as the registry keeps it: forward slashes, no "." parts or doubled separators."""
    return posixpath.normpath(path.replace(os.sep, "/"))


def cell_text(value: Any) -> str:
    return "" if value is None else str(value)


class ManifestSource(ImageFolder):
    """The images a manifest lists, one item per row, with ids kept under `registry_dir`."""

    dedupe_content = False  # rows are items on purpose: the same picture under two ids is two items

    def __init__(self, manifest: str | os.PathLike[str], *, path_column: str | None = None,
                 id_column: str | None = None, registry_dir: str | os.PathLike[str] | None = None,
                 thumb_size: int = THUMB_SIZE) -> None:
        self.manifest = Path(manifest)
        self.root = self.manifest.resolve().parent
        columns, rows = read_table(self.manifest)
        self.path_column = pick_column(columns, path_column, PATH_COLUMNS, "path", required=True)
        self.id_column = pick_column(columns, id_column, ID_COLUMNS, "id", required=False)
        self.metadata_columns = [c for c in columns if c not in (self.path_column, self.id_column)]
        found, broken, metadata = self._scan(rows)
        file = registry_file(Path(registry_dir), self.manifest.resolve()) if registry_dir is not None else None
        registry = ItemRegistry(file, self.root, identity=self.manifest)
        self._open(registry, found, broken, lru_cache(maxsize=None)(header_problem), thumb_size)
        self._metadata = [metadata.get(r.name, {}) for r in self.registry.by_id]

    def _scan(self, rows: list[dict[str, Any]]) -> tuple[list[FoundFile], list[tuple[str, str]], dict[str, dict]]:
        """The rows' files with their stat, the rows that cannot be used (why), and each row's metadata."""
        found: list[FoundFile] = []
        broken: list[tuple[str, str]] = []
        metadata: dict[str, dict[str, str]] = {}
        stats: dict[str, os.stat_result | OSError] = {}
        for number, row in enumerate(rows, start=2):  # line 1 is the header
            path = cell_text(row.get(self.path_column)).strip()
            key = cell_text(row.get(self.id_column)).strip() if self.id_column else None
            name = key if key is not None else path
            if not path or (self.id_column and not key):
                broken.append((f"row {number}", f"no {'path' if not path else 'id'}"))
                continue
            if name in metadata:
                broken.append((f"row {number}", f"{name} is listed twice; the first row is kept"))
                continue
            metadata[name] = {c: cell_text(row.get(c)) for c in self.metadata_columns}
            stat = stats.get(path)
            if stat is None:
                try:
                    stat = stats[path] = (self.root / path).stat()
                except OSError as exc:
                    stat = stats[path] = exc
            if isinstance(stat, OSError):
                why = f"{stat.strerror or stat}".lower()
                broken.append((name, why if key is None else f"{path}: {why}"))
                continue
            found.append(FoundFile(normalised(path), stat.st_size, stat.st_mtime_ns, key=key))
        return found, broken, metadata

    @property
    def where(self) -> str:
        return str(self.manifest)

    def empty_message(self) -> str:
        return f"the manifest {self.manifest} lists no images"

    @property
    def name(self) -> str:
        return f"{self.manifest.name} ({int(self._available.sum())} images)"

    def keys(self) -> list[str | None]:
        """The id column's value of every item (None without an id column)."""
        return [r.key for r in self.registry.by_id]

    def metadata(self, item_id: int) -> dict[str, str]:
        """The item's other columns, as text (empty for an item no longer in the manifest)."""
        return self._metadata[self.record(item_id).id]

    def describe(self, item_id: int) -> str:
        """What hovering a card shows: the path, the id, then the other columns."""
        record = self.record(item_id)
        lines = [record.path] + ([f"{self.id_column}: {record.key}"] if record.key is not None else [])
        lines += [f"{k}: {v}" for k, v in self.metadata(item_id).items() if v != ""]
        return "\n".join(lines)

    def fingerprint(self) -> str:
        return f"manifest:{self.registry.folder_id}"
