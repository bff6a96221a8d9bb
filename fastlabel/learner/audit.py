"""Audit cards: a page-composition option, not a strategy.

A few cards of every page (or every card of an audit page) are drawn uniformly at random from
the unlabeled items the strategy did not pick. Their labels are held out of training, so the
quality estimates computed from them stay unbiased whatever the strategy chose.
"""

from __future__ import annotations

import numpy as np

from .base import Pool

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
