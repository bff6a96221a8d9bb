"""Stable item ids for a folder of images: a file is its relative path, known by its content hash.

Ids are handed out once, in order of first sight, and kept in a small JSON file in the home, so
they never shift when files are added or removed. Each start reconciles the folder with the
registry: new paths get new ids, vanished paths are marked absent (their ids are never reused),
and a file whose size or modification time moved is re-hashed; only a different hash counts as
a change (`touch` alone changes nothing). A file that cannot be used keeps its reason next to its
hash, so it is not retried until its content changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, TypeVar

from fastlabel.errors import DataError
from fastlabel.files import file_sha256, write_atomic

log = logging.getLogger(__name__)

REGISTRY_VERSION = 1


@dataclass
class ItemRecord:
    """One file ever seen under the folder (or one row of a manifest or dataset)."""

    id: int
    path: str  # relative to the root, POSIX separators (or absolute, for a manifest's row)
    sha256: str
    size: int
    mtime_ns: int
    present: bool = True
    problem: str | None = None  # why this content cannot be used (kept until the hash changes)
    changed_at: float | None = None  # when its content last changed: labels given before need a look
    key: str | None = None  # what the item is known by when it is not its path (a manifest's id column)

    @property
    def name(self) -> str:
        return self.key if self.key is not None else self.path


@dataclass(frozen=True)
class FoundFile:
    """A candidate file of this scan, with the stat its quick check compares.

    `key` names the item when its path may change under it (a manifest's id column); `sha256` is given
    by sources that hold the content in memory (a dataset's rows), and then replaces the quick check."""

    path: str
    size: int
    mtime_ns: int
    key: str | None = None
    sha256: str | None = None

    @property
    def name(self) -> str:
        return self.key if self.key is not None else self.path


@dataclass
class Changes:
    """What a reconcile found, by relative path."""

    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # stat moved, content the same
    returned: list[str] = field(default_factory=list)  # absent before, back now (same id)

    def summary(self) -> str:
        return f"{len(self.new)} new, {len(self.changed)} changed, {len(self.removed)} removed"

    @property
    def any(self) -> bool:
        return bool(self.new or self.changed or self.removed or self.returned)

    @property
    def recorded(self) -> bool:
        """Whether the registry's records moved (a touch updates the stat it keeps): it must be saved."""
        return self.any or bool(self.touched)


T = TypeVar("T")


def read_registry(file: Path, version: int, what: str, parse: Callable[[dict[str, Any]], T]) -> T:
    """A registry file of `version`, parsed. Ids in journals refer to it, so silently starting over would
    mislabel them: a file that cannot be read is a DataError saying to restore it or move it away."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
        if raw.get("version") != version:
            raise ValueError(f"unknown version {raw.get('version')!r}")
        return parse(raw)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"the {what} {file} is unreadable ({exc}); restore it, or move it away "
                        "to start the folder afresh (labels recorded on the old ids will not match)") from None


class ItemRegistry:
    """Relative path -> ItemRecord for one folder root, stored as JSON (written atomically)."""

    def __init__(self, file: Path | None, root: Path, identity: Path | None = None) -> None:
        self.file = file
        self.root = root
        # kept once saved; `identity` (a manifest's own file) when several sources share one root
        self.folder_id = hashlib.sha256(os.fsencode(str((identity or root).resolve()))).hexdigest()[:32]
        self.records: dict[str, ItemRecord] = {}
        self.by_id: list[ItemRecord] = []
        if file is not None and file.is_file():
            self._read(file)

    def _read(self, file: Path) -> None:
        records, folder_id = read_registry(file, REGISTRY_VERSION, "item registry", lambda raw: (
            [ItemRecord(**entry) for entry in raw["items"]], str(raw["folder_id"])))
        if [r.id for r in records] != list(range(len(records))):
            raise DataError(f"the item registry {file} has ids out of order; restore it or move it away")
        self.folder_id = folder_id
        self.by_id = records
        self.records = {r.name: r for r in records}

    def save(self) -> None:
        if self.file is None:
            return
        body = {"version": REGISTRY_VERSION, "folder_id": self.folder_id, "root": str(self.root),
                "items": [record_json(r) for r in self.by_id]}
        write_atomic(self.file, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())

    def __len__(self) -> int:
        return len(self.by_id)

    def reconcile(self, found: list[FoundFile], check: Callable[[Path], str | None]) -> Changes:
        """Bring the records in line with this scan; `check` says why a new or changed file is unusable."""
        changes = Changes()
        seen: set[str] = set()
        digests: dict[str, str] = {}  # one hash per file, however many rows name it
        for file in found:
            seen.add(file.name)
            record = self.records.get(file.name)
            if (record is not None and record.present and file.sha256 is None and record.path == file.path
                    and (record.size, record.mtime_ns) == (file.size, file.mtime_ns)):
                continue  # the quick check: same size and time, same content
            try:
                digest = file.sha256 or digests.get(file.path) or file_sha256(self.root / file.path)
            except OSError as exc:
                log.warning("cannot read %s: %s", file.path, exc)
                continue
            digests[file.path] = digest
            if record is not None and record.present and record.sha256 == digest and record.path == file.path:
                continue  # content given in memory, unchanged
            if record is None:
                record = ItemRecord(len(self.by_id), file.path, digest, file.size, file.mtime_ns, key=file.key)
                self.by_id.append(record)
                self.records[file.name] = record
                changes.new.append(file.name)
            elif record.sha256 != digest:
                record.sha256, record.problem, record.changed_at = digest, None, time.time()
                changes.changed.append(file.name)
            elif not record.present:
                changes.returned.append(file.name)
            else:
                changes.touched.append(file.name)
            record.path, record.size, record.mtime_ns, record.present = file.path, file.size, file.mtime_ns, True
            if record.problem is None:
                record.problem = check(self.root / file.path)
        for record in self.by_id:
            if record.present and record.name not in seen:
                record.present = False
                changes.removed.append(record.name)
        return changes


RECORD_FIELDS = tuple(f.name for f in fields(ItemRecord))


def record_json(record: ItemRecord) -> dict:
    """A record as stored: `key` only where the item has one (plain values: no deep copy, unlike asdict)."""
    body = {name: getattr(record, name) for name in RECORD_FIELDS}
    if body["key"] is None:
        del body["key"]
    return body


def registry_file(home_dir: Path, root: Path, kind: str = "folder") -> Path:
    """Where the registry of a folder root lives: one file per resolved root and kind of scan
    ("folder" for images, "audio" for recordings)."""
    key = hashlib.sha256(os.fsencode(str(root.resolve()))).hexdigest()[:16]
    return home_dir / f"{kind}-{key}.json"
