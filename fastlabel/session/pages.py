"""Page composition, pure: the strategy's picks plus a few uniformly random audit cards, in reading order.

Audit cards are a page option, not a strategy: every page carries a few, and the audit page
(`strategy=audit`) is all audit cards. Their labels are held out of training, so the estimates
made from them stay unbiased whatever the strategy chose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..learner.base import Pool, Selection, sort_by_confidence
from ..learner.sampling import sample_unlabeled

EVERYTHING_LABELED = "Every item is labeled: export your labels, or undo to revise."
AUDIT_PAGE = "audit"  # the page name that asks for audit cards only
AUDIT_MENU_ENTRY = {"name": AUDIT_PAGE, "title": "Audit (random check of the estimates)", "batch_type": "neutral"}


@dataclass(frozen=True)
class Page:
    ids: np.ndarray  # most confident first in the page's batch type
    audit: np.ndarray  # the audit cards among them, sorted
    audit_pool: int  # how many unlabeled items the audit cards were drawn from
    batch_type: str
    message: str | None = None
    prelabel: int | None = None  # the strategy's: cards start with this label instead of the model's guess


def audit_count(batch_size: int, per_page: int, *, audit_page: bool) -> int:
    """How many audit cards a page carries: all of an audit page, else `per_page` on pages of 12 or more."""
    if audit_page:
        return batch_size
    return min(per_page, batch_size // 12)


def compose_page(selection: Selection, pool: Pool, n_audit: int) -> Page:
    """Add `n_audit` cards drawn uniformly from the unlabeled items the strategy did not pick
    (in O(page), without a pass over the pool: fastlabel.learner.sampling)."""
    audit = sample_unlabeled(pool.rng, pool.labeled, n_audit, exclude=selection.ids.tolist())
    rest_size = int(pool.labeled.size - np.count_nonzero(pool.labeled)) - int(selection.ids.size)
    ids = sort_by_confidence(np.concatenate([selection.ids, audit]).astype(np.int64), pool.probs,
                             selection.batch_type)
    message = selection.message or (EVERYTHING_LABELED if ids.size == 0 else None)
    return Page(ids, np.sort(audit), rest_size, selection.batch_type, message, selection.prelabel)


def audit_only(name: str = AUDIT_PAGE) -> Selection:
    """The strategy part of an audit page: nothing, so every card is an audit card."""
    return Selection(np.empty(0, np.int64), "neutral", name)
