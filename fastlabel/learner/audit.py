"""Audit cards: a page-composition option, not a strategy, and the page they are composed into.

A few cards of every page (or every card of an audit page) are drawn uniformly at random from
the unlabeled items the strategy did not pick. Their labels are held out of training, so the
quality estimates computed from them stay unbiased whatever the strategy chose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Pool, Selection, sort_by_confidence
from .registry import select

AUDIT_PAGE = "audit"  # the page name that asks for a page of audit cards only
MENU_ENTRY = {"name": AUDIT_PAGE, "title": "Audit (random check of the estimates)", "batch_type": "neutral"}
CARDS_PER_DOZEN = 12  # a page carries one audit card per dozen cards, up to `per_page`


def audit_count(page_name: str, batch_size: int, per_page: int) -> int:
    """How many audit cards a page carries: all of an audit page, a few of any other."""
    if page_name == AUDIT_PAGE:
        return batch_size
    return min(per_page, batch_size // CARDS_PER_DOZEN)


def draw_audit(pool: Pool, chosen: np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """(n audit ids drawn uniformly from the unlabeled items not in `chosen`, how many they were drawn from)."""
    rest = np.setdiff1d(pool.unlabeled, chosen)
    return pool.rng.choice(rest, size=min(n, rest.size), replace=False).astype(np.int64), int(rest.size)


@dataclass(frozen=True)
class Page:
    ids: np.ndarray  # the strategy's picks and the audit cards, sorted by confidence in the batch type
    audit: np.ndarray
    audit_pool: int  # how many unlabeled items the audit cards were drawn from
    selection: Selection  # what the strategy chose (its batch type, prelabel, exhaustion message)


def compose_page(pool: Pool, name: str, batch_size: int, audit_per_page: int) -> Page:
    """A page of `batch_size`: strategy `name`'s picks plus audit cards (all audit cards for AUDIT_PAGE)."""
    n_audit = audit_count(name, batch_size, audit_per_page)
    if name == AUDIT_PAGE:
        sel = Selection(np.empty(0, np.int64), "neutral", name)
    else:
        sel = select(name, pool, batch_size - n_audit)
    audit, audit_pool = draw_audit(pool, sel.ids, n_audit)
    ids = sort_by_confidence(np.concatenate([sel.ids, audit]).astype(np.int64), pool.probs, sel.batch_type)
    return Page(ids, audit, audit_pool, sel)
