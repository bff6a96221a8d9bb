"""The append-only event log, optionally journaled to a JSONL file that survives crashes.

Each append is written as one line, flushed and fsync'd before `append` returns, so an
acknowledged event is on disk. A torn last line (a crash mid-write) is reported and
skipped when the journal is read back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any, Iterable, TypeVar

import orjson

from ..errors import InvalidInput
from ..files import fsync_dir, write_atomic
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
        except (ValueError, TypeError, InvalidInput) as exc:  # JSONDecodeError is a ValueError
            where = f"{source}:{number}"
            if number == len(lines):
                problems.append(f"{where}: skipped a torn last line ({exc})")
                continue
            raise InvalidInput(f"{where}: {exc}") from exc
    for previous, event in zip(events, events[1:]):
        if event.seq <= previous.seq:
            raise InvalidInput(f"{source}: event sequence numbers must increase ({previous.seq} then {event.seq})")
    return events, problems


def load_events(path: Path) -> list[Event]:
    """Read an exported session (JSONL); a torn last line is logged and skipped."""
    events, problems = parse_jsonl(Path(path).read_bytes(), str(path))
    for problem in problems:
        log.warning(problem)
    return events


def lock_journal(journal: Path) -> IO[bytes] | None:
    """Hold `<journal>.lock` for this process, so that a second FastLabel process refuses to write the
    same journal (interleaved appends would corrupt it). The kernel drops the lock when the process dies."""
    try:
        import fcntl
    except ImportError:  # no POSIX advisory locks on this platform
        return None
    journal.parent.mkdir(parents=True, exist_ok=True)
    fh = open(journal.with_name(journal.name + ".lock"), "ab")
    try:
        fcntl.lockf(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        raise InvalidInput(f"{journal} is in use by another FastLabel process; "
                           "stop that one, or give this one another --session or --home") from None
    return fh


class EventLog:
    """Events in order, each with the next sequence number; append-only."""

    def __init__(self, events: Iterable[Event] = (), journal: Path | None = None) -> None:
        self._events: list[Event] = list(events)
        self._lock = threading.Lock()
        self.journal = journal
        self._fh: IO[bytes] | None = None
        self._held: IO[bytes] | None = None  # the journal's lock file, while this log writes it
        self.problems: list[str] = []

    @classmethod
    def open(cls, journal: Path) -> "EventLog":
        """Open (or create) a journal file and load the events already in it; one process at a time."""
        held = lock_journal(journal)
        events: list[Event] = []
        problems: list[str] = []
        if journal.exists():
            data = journal.read_bytes()
            events, problems = parse_jsonl(data, str(journal))
            for problem in problems:
                log.warning(problem)
            if problems or (data and not data.endswith(b"\n")):  # new lines must start on a clean line
                write_atomic(journal, events_to_jsonl(events))
        el = cls(events, journal)
        el.problems = problems
        el._held = held
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
        """Append one line and fsync it; on failure cut the file back so no partial line stays."""
        if self._fh is None:
            assert self.journal is not None
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            created = not self.journal.exists()
            self._fh = open(self.journal, "ab", buffering=0)
            if created:
                fsync_dir(self.journal.parent)
        fd = self._fh.fileno()
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except BaseException:
            self._discard_from(start)
            raise

    def _discard_from(self, offset: int) -> None:
        """Drop whatever a failed append left past `offset`, and reopen on the next append."""
        assert self._fh is not None
        try:
            os.ftruncate(self._fh.fileno(), offset)
        except OSError:
            log.exception("could not cut a failed append out of %s", self.journal)
        finally:
            self._fh.close()
            self._fh = None

    def to_jsonl(self) -> bytes:
        return events_to_jsonl(self._events)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._held is not None:
            self._held.close()
            self._held = None
