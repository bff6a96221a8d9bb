"""The append-only event log, optionally journaled to a JSONL file that survives crashes.

Each append is written as one line, fsync'd before `append` returns, so an acknowledged event
is on disk. Only a last line without its newline is a torn write (a crash mid-append): it is
reported and cut off, in place. Any other line that does not hold a valid event is corruption:
the journal is refused with the line number, never rewritten. The journal file itself is
locked (flock on the open file), so a second process is refused whatever name it uses for it:
a symlink or a hard link reaches the same lock.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any, Iterable, TypeVar

import orjson

from ..errors import InvalidInput, StorageError, StorageFull
from ..files import fsync_dir
from .records import Event, ItemsAdded, SessionStarted, event_from_dict

log = logging.getLogger(__name__)
E = TypeVar("E", bound=Event)
FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


def events_to_jsonl(events: Iterable[Event]) -> bytes:
    return b"".join(orjson.dumps(e.to_dict()) + b"\n" for e in events)


def check_in_context(event: Event, previous_seq: int, n_items: int | None) -> None:
    """What one record cannot check alone: sequence numbers increase, item ids are in the data."""
    if event.seq <= previous_seq:
        raise InvalidInput(f"event sequence numbers must increase ({previous_seq} then {event.seq})")
    item_ids = getattr(event, "item_ids", None)
    if n_items is not None and item_ids is not None:
        for item in item_ids():
            if item >= n_items:
                raise InvalidInput(f"{event.type} event {event.seq}: id {item} is outside the data "
                                   f"(ids are 0..{n_items - 1})")


def id_bound(event: Event, bound: int | None) -> int | None:
    """How many item ids exist after `event`: set by the session's start, raised when a folder grows."""
    return event.n_items if isinstance(event, (SessionStarted, ItemsAdded)) else bound


def parse_jsonl(data: bytes, source: str = "<jsonl>") -> tuple[list[Event], list[str]]:
    """Parse JSONL into validated events; returns (events, problems). A bad last line without its
    newline is a torn write and only reported; any other bad line raises InvalidInput with its number."""
    torn_possible = bool(data) and not data.endswith(b"\n")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    events: list[Event] = []
    problems: list[str] = []
    bound: int | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = event_from_dict(orjson.loads(line))
            check_in_context(event, events[-1].seq if events else 0, bound)
        except (ValueError, TypeError, InvalidInput) as exc:  # JSONDecodeError is a ValueError
            where = f"{source}:{number}"
            if torn_possible and number == len(lines):
                problems.append(f"{where}: skipped a torn last line ({exc})")
                continue
            raise InvalidInput(f"{where}: {exc}") from None
        events.append(event)
        bound = id_bound(event, bound)
    return events, problems


def load_events(path: Path) -> list[Event]:
    """Read an exported session (JSONL); a torn last line is logged and skipped."""
    events, problems = parse_jsonl(Path(path).read_bytes(), str(path))
    for problem in problems:
        log.warning(problem)
    return events


def storage_error(exc: OSError, journal: Path | None, saved: str = "nothing of this request was saved") -> Exception:
    """The typed error for a failed journal write: a full disk says so (507)."""
    if exc.errno in FULL_ERRNOS:
        return StorageFull(f"the disk holding the session journal {journal} is full; {saved}. "
                           "Free some space, then try again")
    return StorageError(f"could not write the session journal {journal}: {exc.strerror or exc}; {saved}")


def open_journal(journal: Path) -> int:
    """Open (or create) the journal for appending and lock the file itself; returns the descriptor.
    Refuses a journal this process cannot write, or one another process holds."""
    try:
        journal.parent.mkdir(parents=True, exist_ok=True)
        created = not journal.exists()
        fd = os.open(journal, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot write the session journal {journal}: {exc.strerror}; "
                           "fix its permissions, or give another --session or --home") from None
    try:
        import fcntl
    except ImportError:  # no flock on this platform: one process at a time is then up to the user
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise InvalidInput(f"{journal} is in use by another FastLabel process; "
                           "stop that one, or give this one another --session or --home") from None
    if created:
        fsync_dir(journal.parent)
    return fd


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    chunks, offset = [], 0
    while offset < size:
        chunk = os.pread(fd, min(1 << 24, size - offset), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


class EventLog:
    """Events in order, each with the next sequence number; append-only."""

    def __init__(self, events: Iterable[Event] = (), journal: Path | None = None) -> None:
        self._events: list[Event] = list(events)
        self._id_bound: int | None = None  # how many item ids exist, as the events so far say
        for event in self._events:
            self._id_bound = id_bound(event, self._id_bound)
        # reentrant, and public: whoever folds the events (the session) guards its state with this lock too
        self.lock = threading.RLock()
        self.journal = journal
        self._file: IO[bytes] | None = None  # the journal, open and locked while this log writes it
        self.problems: list[str] = []

    @classmethod
    def open(cls, journal: Path) -> "EventLog":
        """Open (or create) a journal file and load the events already in it; one process at a time."""
        journal = Path(journal)
        fd = open_journal(journal)
        try:
            data = _read_all(fd)
            events, problems = parse_jsonl(data, str(journal))
            for problem in problems:
                log.warning(problem)
            if data and not data.endswith(b"\n"):  # new lines must start on a clean line
                if problems:  # cut the torn line off, in place: same file, owner and mode
                    os.ftruncate(fd, data.rfind(b"\n") + 1)
                else:  # a whole last line whose newline was lost
                    os.write(fd, b"\n")
                os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            raise storage_error(exc, journal, "nothing was changed") from None
        except BaseException:
            os.close(fd)
            raise
        el = cls(events, journal)
        el.problems = problems
        el._file = open(fd, "r+b", buffering=0)  # a file object: dropping the log unlocks the journal
        return el

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self):
        return iter(list(self._events))

    @property
    def events(self) -> list[Event]:
        return list(self._events)

    def append(self, kind: type[E], **payload: Any) -> E:
        """Create the next event of `kind`, check it, persist it, then return it."""
        with self.lock:
            previous = self._events[-1].seq if self._events else 0
            event = kind(seq=previous + 1, ts=round(time.time(), 3), **payload)
            check_in_context(event, previous, self._id_bound)
            if self.journal is not None:
                self._write(orjson.dumps(event.to_dict()) + b"\n")
            self._events.append(event)
            self._id_bound = id_bound(event, self._id_bound)
            return event

    def _write(self, line: bytes) -> None:
        """Append one line and fsync it; on failure cut the file back so no partial line stays."""
        if self._file is None:
            raise StorageError(f"the session journal {self.journal} is closed; nothing of this request was saved")
        fd = self._file.fileno()
        start = os.lseek(fd, 0, os.SEEK_END)
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError as exc:
            self._discard_from(start)
            raise storage_error(exc, self.journal) from None
        except BaseException:
            self._discard_from(start)
            raise

    def _discard_from(self, offset: int) -> None:
        """Drop whatever a failed append left past `offset`."""
        assert self._file is not None
        try:
            os.ftruncate(self._file.fileno(), offset)
        except OSError:
            log.exception("could not cut a failed append out of %s", self.journal)

    def to_jsonl(self) -> bytes:
        return events_to_jsonl(self._events)

    def close(self) -> None:
        """Flush and release the journal (and its lock); later appends are refused."""
        with self.lock:
            if self._file is not None:
                try:
                    os.fsync(self._file.fileno())
                except OSError:
                    pass
                self._file.close()
                self._file = None
