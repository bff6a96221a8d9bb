"""Page composition, pure: the strategy's picks plus a few uniformly random audit cards, in reading order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..learner.sampling import sample_unlabeled
from ..learner.strategies import Pool, Selection, sort_by_confidence

EVERYTHING_LABELED = "Every item is labeled: export your labels, or undo to revise."


@dataclass(frozen=True)
class Page:
    ids: np.ndarray  # most confident first in the page's batch type
    audit: np.ndarray  # the audit cards among them, sorted
    audit_pool: int  # how many unlabeled items the audit cards were drawn from
    batch_type: str
    message: str | None = None


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
    return Page(ids, np.sort(audit), rest_size, selection.batch_type, message)
