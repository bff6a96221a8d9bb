"""The append-only event log, optionally journaled to a JSONL file that survives crashes.

Each append is written as one line, flushed and fsync'd before `append` returns, so an
acknowledged event is on disk. A torn last line (a crash mid-write) is reported and
skipped when the journal is read back.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Iterable, TypeVar

import orjson

from ..errors import InvalidInput
from .records import Event, event_from_dict

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)


def events_to_jsonl(events: Iterable[Event]) -> bytes:
    return b"".join(orjson.dumps(e.to_dict()) + b"\n" for e in events)


def parse_jsonl(data: bytes, source: str = "<jsonl>") -> tuple[list[Event], list[str]]:
    """Parse JSONL into events; returns (events, problems). A bad last line is a torn write and
    only reported; a bad line elsewhere is corruption and raises."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    events: list[Event] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(event_from_dict(orjson.loads(line)))
        except (orjson.JSONDecodeError, InvalidInput) as exc:
            where = f"{source}:{number}"
            if number == len(lines):
                problems.append(f"{where}: skipped a torn last line ({exc})")
                continue
            raise InvalidInput(f"{where}: {exc}") from exc
    for previous, event in zip(events, events[1:]):
        if event.seq <= previous.seq:
            raise InvalidInput(f"{source}: event sequence numbers must increase ({previous.seq} then {event.seq})")
    return events, problems


def write_atomic(path: Path, data: bytes) -> None:
    """Write a whole file so that readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class EventLog:
    """Events in order, each with the next sequence number; append-only."""

    def __init__(self, events: Iterable[Event] = (), journal: Path | None = None) -> None:
        self._events: list[Event] = list(events)
        self._lock = threading.Lock()
        self.journal = journal
        self._fh: IO[bytes] | None = None
        self.problems: list[str] = []

    @classmethod
    def open(cls, journal: Path) -> "EventLog":
        """Open (or create) a journal file and load the events already in it."""
        events: list[Event] = []
        problems: list[str] = []
        if journal.exists():
            events, problems = parse_jsonl(journal.read_bytes(), str(journal))
            for problem in problems:
                log.warning(problem)
            if problems:  # drop the torn tail so new lines start on a clean line
                write_atomic(journal, events_to_jsonl(events))
        el = cls(events, journal)
        el.problems = problems
        return el

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self):
        return iter(list(self._events))

    @property
    def events(self) -> list[Event]:
        return list(self._events)

    def append(self, kind: type[E], **payload: Any) -> E:
        """Create the next event of `kind`, persist it, then return it."""
        with self._lock:
            seq = self._events[-1].seq + 1 if self._events else 1
            event = kind(seq=seq, ts=round(time.time(), 3), **payload)
            if self.journal is not None:
                self._write(orjson.dumps(event.to_dict()) + b"\n")
            self._events.append(event)
            return event

    def _write(self, line: bytes) -> None:
        if self._fh is None:
            assert self.journal is not None
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.journal, "ab")
        self._fh.write(line)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def to_jsonl(self) -> bytes:
        return events_to_jsonl(self._events)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
