"""Concepts: many named binary tasks ("smiling", "eyeglasses") over one workspace's items and embeddings.

Each concept is its own LabelingSession with its own journal, so replay, export and durability hold
per concept as they did for one. The first concept keeps the workspace's journal, so older sessions
open as they were; the others live beside it in `<journal stem>.concepts/<file stem>.jsonl`. A name
reaches the file system only through `file_stem`, which spells it with [a-z0-9_-] alone, so no name
can be a path. Sessions open lazily, all over the same embeddings array: nothing is re-embedded.
(Just over 250 lines: names, files and the registry of open sessions are one small concern.)
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Callable

import orjson

from .errors import ConceptExists, InvalidInput, UnknownConcept
from .events import EventLog, fold, load_events
from .files import write_atomic
from .session import Follower, LabelingSession

log = logging.getLogger(__name__)
DEFAULT_CONCEPT = "positive"
MAX_NAME_CHARS = 40
MAX_STEM_CHARS = 200  # a file name stays well under the usual 255-byte limit
NAME_PUNCTUATION = " -_."
CURRENT_FILE = "current.json"  # which concept a restart opens; never a concept's journal (those end .jsonl)

OpenSession = Callable[[EventLog, str], LabelingSession]


def check_name(raw: Any) -> str:
    """A concept name as given, trimmed: 1-40 letters, digits, spaces and - _ . starting with a letter or
    digit; anything else (a path, a control character, an empty name) is an InvalidInput."""
    if not isinstance(raw, str):
        raise InvalidInput("a concept name must be a string")
    name = raw.strip()
    if not name:
        raise InvalidInput("a concept name is required, e.g. \"smiling\"")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"a concept name has at most {MAX_NAME_CHARS} characters")
    if not name[0].isalnum() or not all(c.isalnum() or c in NAME_PUNCTUATION for c in name):
        raise InvalidInput(f"a concept name is letters, digits, spaces and {NAME_PUNCTUATION.strip()!r}, "
                           f"starting with a letter or digit; got {name[:40]!r}")
    if len(file_stem(name)) > MAX_STEM_CHARS:
        raise InvalidInput("this concept name is too long once spelled for the file system; use a shorter one")
    return name


def key(name: str) -> str:
    """Names compare without case: "Smiling" and "smiling" are one concept (and one file on any disk)."""
    return name.casefold()


def file_stem(name: str) -> str:
    """The name spelled with [a-z0-9-] kept and every other character as _xx per UTF-8 byte: injective,
    lower-case (safe on case-insensitive disks), never '.', '/' or '\\'."""
    out = []
    for ch in name:
        if "a" <= ch <= "z" or "0" <= ch <= "9" or ch == "-":
            out.append(ch)
        else:
            out.extend(f"_{b:02x}" for b in ch.encode("utf-8"))
    return "".join(out)


def name_from_stem(stem: str) -> str | None:
    """The inverse of `file_stem`; None for a file name it could not have made."""
    raw, k = bytearray(), 0
    while k < len(stem):
        if stem[k] == "_":
            try:
                raw.append(int(stem[k + 1:k + 3], 16))
            except ValueError:
                return None
            k += 3
        else:
            raw += stem[k].encode()
            k += 1
    try:
        name = raw.decode("utf-8")
        return name if file_stem(name) == stem else None
    except UnicodeDecodeError:
        return None


def journal_concept(journal: Path) -> str | None:
    """The concept a journal's first event names (journals from before concepts say nothing: the default)."""
    try:
        with open(journal, "rb") as fh:
            first = fh.readline()
        return str(orjson.loads(first).get("concept", DEFAULT_CONCEPT)) if first.strip() else None
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None


class Concepts:
    """The concepts of one workspace: names, their journals, their sessions (opened on first use), and
    which one is current (what routes without ?concept= act on, and what a restart opens)."""

    def __init__(self, journal: Path, open_session: OpenSession, requested: str | None = None) -> None:
        self.journal = Path(journal)
        self.folder = self.journal.with_name(self.journal.stem + ".concepts")
        self._open_session = open_session
        self._lock = threading.RLock()
        self._sessions: dict[str, LabelingSession] = {}
        self._opening: dict[str, threading.Lock] = {}  # one lock per concept being opened
        self._background: threading.Thread | None = None
        self._closed = False
        self._followers: list[Follower] = []
        self._paths: dict[str, tuple[str, Path]] = {}  # key -> (name, journal)
        primary = journal_concept(self.journal)
        requested = check_name(requested) if requested is not None else None
        self._paths[key(primary or requested or DEFAULT_CONCEPT)] = (primary or requested or DEFAULT_CONCEPT,
                                                                     self.journal)
        for path in sorted(self.folder.glob("*.jsonl")) if self.folder.is_dir() else ():
            name = name_from_stem(path.stem)
            if name is None or key(name) in self._paths:
                log.warning("ignoring %s: not a concept journal this workspace wrote", path)
                continue
            self._paths[key(name)] = (name, path)
        self._current = self._first_current(requested)

    def _first_current(self, requested: str | None) -> str:
        if requested is not None:  # opened or created, and remembered as the one used last
            self._current = self.create(requested, exist_ok=True)
            return self.switch(self._current)
        try:
            saved = orjson.loads((self.folder / CURRENT_FILE).read_bytes()).get("name")
            return self.resolve(saved)
        except (OSError, orjson.JSONDecodeError, AttributeError, InvalidInput, UnknownConcept):
            return self.names()[0]

    # -- names --------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The first concept, then the others alphabetically."""
        with self._lock:
            first, *rest = self._paths.values()
            return [first[0]] + sorted((n for n, _ in rest), key=key)

    def resolve(self, raw: Any) -> str:
        """A name as stored; a malformed name is an InvalidInput (400), an unknown one UnknownConcept (404)."""
        name = check_name(raw)
        found = self._paths.get(key(name))
        if found is None:
            raise UnknownConcept(f"no concept named {name!r}; create it first (known: {', '.join(self.names())})")
        return found[0]

    @property
    def current(self) -> str:
        return self._current

    def switch(self, raw: Any) -> str:
        """Make a concept current and remember it for the next start."""
        with self._lock:
            name = self.resolve(raw)
            self.session(name)  # open it now: a switch that succeeds can serve at once
            self._current = name
            write_atomic(self.folder / CURRENT_FILE, orjson.dumps({"name": name}))
            return name

    def create(self, raw: Any, *, exist_ok: bool = False) -> str:
        """A new concept with an empty journal; a taken name (in any case) is a ConceptExists (409)."""
        name = check_name(raw)
        with self._lock:
            found = self._paths.get(key(name))
            if found is not None:
                if exist_ok:
                    return found[0]
                raise ConceptExists(f"a concept named {found[0]!r} already exists")
            path = self.folder / f"{file_stem(name)}.jsonl"
            self._paths[key(name)] = (name, path)
            try:
                self.session(name)  # writes its session_started event
            except Exception:
                del self._paths[key(name)]
                raise
            return name

    # -- sessions -----------------------------------------------------------------------------
    def session(self, raw: Any = None) -> LabelingSession:
        """The session of a concept (default: the current one), replayed from its journal on first use.
        Opening one concept holds up only the requests for that concept."""
        name = self._current if raw is None else self.resolve(raw)
        k = key(name)
        session = self._sessions.get(k)
        if session is not None:
            return session
        with self._lock:
            opening = self._opening.setdefault(k, threading.Lock())
        with opening:
            session = self._sessions.get(k)
            if session is None:
                session = self._open_session(EventLog.open(self._paths[k][1]), name)
                with self._lock:
                    for follower in self._followers:
                        session.subscribe(follower)
                    self._sessions[k] = session
            return session

    def open_all_in_background(self) -> threading.Thread:
        """Replay every concept not opened yet, one after the other in a background thread, so that a
        first switch to it after a start is as quick as any other."""

        def run() -> None:
            for name in self.names():
                if self._closed:
                    return
                try:
                    self.session(name)
                except Exception as exc:  # a broken journal stays closed; switching to it says why
                    log.warning("could not open concept %r: %s", name, exc)

        thread = self._background = threading.Thread(target=run, name="fastlabel-concepts", daemon=True)
        thread.start()
        return thread

    def subscribe(self, follower: Follower) -> None:
        """Call `follower(message)` after every retrain of every concept, opened now or later (on each
        session's followers' thread, with a message that names the concept)."""
        with self._lock:
            self._followers.append(follower)
            for session in self._sessions.values():
                session.subscribe(follower)

    def release_leases(self, labeler: str) -> None:
        """End every lease `labeler` holds on any open concept (their last tab closed)."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            session.leases.release(labeler)

    def listing(self) -> list[dict[str, Any]]:
        """Each concept with its label counts; one not opened yet is counted by folding its journal (no training)."""
        out = []
        for name in self.names():
            with self._lock:
                session = self._sessions.get(key(name))
                path = self._paths[key(name)][1]
            state = session.state if session is not None else fold(load_events(path)) if path.exists() else None
            labels = state.labels if state is not None else {}
            out.append({"name": name, "labeled": len(labels), "positive": sum(labels.values()),
                        "current": name == self._current, "open": session is not None})
        return out

    def wait_open(self, timeout: float | None = None) -> None:
        """Wait until the background opening of every concept has finished."""
        if self._background is not None:
            self._background.join(timeout)

    def close(self) -> None:
        """Close every open journal (server shutdown), after the background opening has stopped."""
        self._closed = True
        if self._background is not None:
            self._background.join()
        with self._lock:
            for session in self._sessions.values():
                session.log.close()
