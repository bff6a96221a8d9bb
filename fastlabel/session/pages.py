"""Page composition, pure: the strategy's picks plus a few uniformly random audit cards, in reading order.

Audit cards are a page option, not a strategy: every page carries a few, and the audit page
(the catalog's `audit` entry) is all audit cards. Their labels are held out of training, so the estimates
made from them stay unbiased whatever the strategy chose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ..events import BatchServed
from ..learner.base import EXHAUSTED_MESSAGE, Pool, Selection, sort_by_confidence
from ..learner.registry import AUDIT
from ..learner.sampling import sample_unlabeled
from ..threshold import THRESHOLD
from .replies import Batch


def cold_message(concept: str) -> str:
    """What a page served before any model says: its cards start negative."""
    return f"No model yet: cards start negative; click the ones that are {concept or 'positive'}."


@dataclass(frozen=True)
class Page:
    ids: np.ndarray  # most confident first in the page's batch type
    audit: np.ndarray  # the audit cards among them, sorted
    audit_pool: int  # how many unlabeled items the audit cards were drawn from
    batch_type: str
    message: str | None = None
    prelabel: int | None = None  # the strategy's cards start with this label instead of the model's guess
    cold: bool = False  # chosen with neither a head nor a text prior: there is no model's guess
    overlap: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # labeled by others: for agreement

    def start_labels(self, probs: np.ndarray) -> list[int]:
        """The label each card (in `ids` order) is shown with; `probs` are the pool's."""
        return start_labels(self.ids, probs[self.ids], self.audit, self.prelabel, self.cold)


def page_prelabel(strategy_prelabel: int | None, cold: bool) -> int | None:
    """The label the strategy's cards start with: the strategy's own (1 on "more like this"), else
    0 while there is no model (every score is 0.5, and "all positive" would cost a flip per
    negative, nearly every card of a rare concept), else None: the model's guess."""
    if strategy_prelabel is not None:
        return strategy_prelabel
    return 0 if cold else None


def start_labels(ids, probs, audit, prelabel: int | None, cold: bool,
                 threshold: float = THRESHOLD) -> list[int]:
    """The label each card starts with, the one rule the page (grid.js) and the simulated labeler
    (fastlabel.bench) share: the strategy's cards take the page's `prelabel` when it has one;
    audit cards (and every card of a page without one) take the model's guess, p >= threshold,
    which is negative while there is no model (`cold`)."""
    audit_set = {int(a) for a in audit}
    out = []
    for item, p in zip(ids, probs):
        if prelabel is not None and int(item) not in audit_set:
            out.append(int(prelabel))
        else:
            out.append(0 if cold else int(float(p) >= threshold))
    return out


def audit_count(batch_size: int, per_page: int, *, audit_page: bool) -> int:
    """How many audit cards a page carries: all of an audit page, else `per_page` on pages of 12 or more."""
    if audit_page:
        return batch_size
    return min(per_page, batch_size // 12)


def overlap_count(batch_size: int, per_page: int) -> int:
    """How many overlap cards a page carries: `per_page`, at most half the page."""
    return min(per_page, batch_size // 2)


def overlap_sample(rng: np.random.Generator, votes: Mapping[int, Mapping[str, object]], labeler: str, n: int,
                   blocked: np.ndarray | None = None) -> np.ndarray:
    """Up to `n` items, uniformly at random, that someone else labeled and `labeler` has not (nor
    `blocked`, e.g. leased to others): the page's overlap cards, which feed the agreement figures."""
    if n <= 0:
        return np.empty(0, np.int64)
    candidates = np.fromiter((i for i, by in votes.items() if labeler not in by), dtype=np.int64)
    if blocked is not None and candidates.size:
        candidates = candidates[~blocked[candidates]]
    if candidates.size == 0:
        return np.empty(0, np.int64)
    return np.sort(rng.choice(candidates, size=min(n, candidates.size), replace=False)).astype(np.int64)


def compose_page(selection: Selection, pool: Pool, n_audit: int, concept: str = "positive",
                 overlap: np.ndarray | None = None) -> Page:
    """Add `n_audit` cards drawn uniformly from the unlabeled items the strategy did not pick
    (in O(page), without a pass over the pool: fastlabel.learner.sampling), and the `overlap` cards
    (already labeled by someone else). A page chosen with no model starts its cards negative and says so."""
    audit = sample_unlabeled(pool.rng, pool.labeled, n_audit, exclude=selection.ids.tolist())
    rest_size = int(pool.labeled.size - np.count_nonzero(pool.labeled)) - int(selection.ids.size)
    overlap = np.empty(0, np.int64) if overlap is None else np.asarray(overlap, np.int64)
    ids = sort_by_confidence(np.concatenate([selection.ids, audit, overlap]).astype(np.int64), pool.probs,
                             selection.batch_type)
    prelabel = page_prelabel(selection.prelabel, pool.cold)
    message = selection.message or (EXHAUSTED_MESSAGE if ids.size == 0 else None)
    if message is None and pool.cold and prelabel == 0:
        message = cold_message(concept)
    return Page(ids, np.sort(audit), rest_size, selection.batch_type, message, prelabel, pool.cold, overlap)


def served_again(last: BatchServed, kind_prelabel: int | None, cold: bool, concept: str) -> Batch:
    """An unanswered page served again, its cards starting as they did: nothing was recorded since,
    so the pool is as cold as it was."""
    prelabel = page_prelabel(kind_prelabel, cold)
    message = cold_message(concept) if cold and prelabel == 0 else None
    starts = start_labels(last.ids, last.probs, last.audit, prelabel, cold)
    return Batch(last.seq, list(last.ids), list(last.probs), last.batch_type, last.strategy, message=message,
                 prelabel=prelabel, starts=starts, audit=list(last.audit), overlap=list(last.overlap))


def audit_only(name: str = AUDIT) -> Selection:
    """The strategy part of an audit page: nothing, so every card is an audit card."""
    return Selection(np.empty(0, np.int64), "neutral", name)
