"""Leases: a card served to one labeler is theirs for a while, so nobody else is served it.

A labeler's leases share one expiry, renewed by their activity (a page served, a submit, an open
socket's messages); they end on submit, undo, expiry or a closed tab. A submit of a card whose lease
has lapsed, or that was never leased to that labeler, is still accepted (a label is never lost) and
counted here. Leases live in memory; a restart gives each labeler back the cards of their latest
page still unanswered, from the journal (`open_pages`), for what was left of its time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from ..events import SessionState

LEASE_S = 600.0  # ten minutes


@dataclass
class _Held:
    ids: set[int] = field(default_factory=set)
    expires: float = 0.0


class Leases:
    """Which labeler holds which cards, until when; thread-safe."""

    def __init__(self, ttl_s: float = LEASE_S, clock: Callable[[], float] = time.monotonic, *,
                 lock: threading.Lock | threading.RLock | None = None) -> None:
        """`lock`: a session passes its journal's lock, so a submit takes no lock of its own here."""
        self.ttl_s, self._clock = ttl_s, clock
        self._held: dict[str, _Held] = {}
        self._lock = lock if lock is not None else threading.Lock()
        self.lapsed_submits = 0  # labels submitted for cards their labeler did not hold (lapsed or never leased)

    def _live(self, now: float) -> dict[str, _Held]:
        for name in [n for n, h in self._held.items() if h.expires <= now]:
            del self._held[name]
        return self._held

    def grant(self, labeler: str, ids: Iterable[int], ttl_s: float | None = None) -> None:
        """Lease these cards to `labeler` (and renew the ones they hold) for `ttl_s` (default: the full time)."""
        now = self._clock()
        with self._lock:
            held = self._live(now).setdefault(labeler, _Held())
            held.ids.update(int(i) for i in ids)
            held.expires = now + (self.ttl_s if ttl_s is None else ttl_s)

    def restore(self, pages: Mapping[str, tuple[list[int], float]]) -> None:
        """Lease each labeler's cards again for the seconds they had left (`open_pages`, after a restart)."""
        for labeler, (ids, left_s) in pages.items():
            self.grant(labeler, ids, left_s)

    def renew(self, labeler: str) -> None:
        now = self._clock()
        with self._lock:
            held = self._live(now).get(labeler)
            if held is not None:
                held.expires = now + self.ttl_s

    def settle(self, labeler: str, ids: Iterable[int]) -> int:
        """A submit of `ids` by `labeler`: their leases on them end; returns how many were not theirs
        to submit (lapsed, or never leased to them), which are accepted all the same."""
        ids = [int(i) for i in ids]
        with self._lock:
            held = self._live(self._clock()).get(labeler)
            mine = held.ids if held is not None else set()
            lapsed = sum(1 for i in ids if i not in mine)
            mine.difference_update(ids)
            self.lapsed_submits += lapsed
            return lapsed

    def release(self, labeler: str, ids: Iterable[int] | None = None) -> None:
        """End `labeler`'s leases on `ids` (all of them when None: a closed tab)."""
        with self._lock:
            held = self._held.get(labeler)
            if held is None:
                return
            if ids is None:
                del self._held[labeler]
            else:
                held.ids.difference_update(int(i) for i in ids)

    def held_by_others(self, labeler: str) -> np.ndarray:
        """Ids leased to anyone but `labeler` now: what a strategy must not pick for them."""
        with self._lock:
            others = [h.ids for n, h in self._live(self._clock()).items() if n != labeler]
            return np.fromiter((i for ids in others for i in ids), dtype=np.int64)

    def others_hold(self, labeler: str) -> bool:
        """Whether anyone but `labeler` holds cards now (they are labeling this concept too)."""
        with self._lock:
            return any(n != labeler and h.ids for n, h in self._live(self._clock()).items())

    def holders(self) -> dict[str, int]:
        """Each labeler holding cards now, with how many."""
        with self._lock:
            return {n: len(h.ids) for n, h in sorted(self._live(self._clock()).items())}


def open_pages(state: SessionState, now: float, ttl_s: float = LEASE_S) -> dict[str, tuple[list[int], float]]:
    """Each labeler's latest page, when it was served less than `ttl_s` ago (wall clock, from the
    events' own times): its cards nobody has labeled since, and the seconds its lease has left."""
    pages: dict[str, tuple[list[int], float]] = {}
    seen: set[str] = set()
    for page in reversed(state.batches):
        if page.labeler in seen:
            continue
        seen.add(page.labeler)
        left = ttl_s - (now - page.ts)
        ids = [i for i in page.ids if i not in state.labels and i not in page.overlap]
        if left > 0 and ids:
            pages[page.labeler] = (ids, left)
    return pages
