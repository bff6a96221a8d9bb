"""The catalog of page kinds: every page the app serves is an entry here, and the page's menu, the
API's list and the benchmark read only this catalog.

An entry (`base.PageKind`) has a name, a title, a batch type, what it needs (a head, a prior, an
index, exemplars, labeled items) and how its cards start. The strategies pick from the unlabeled
pool; the audit page is random audit cards only and the review page is labeled items (both built
by the session from their entries). It sits above the single and composite strategies (they never
import it), and `select` is the one place a strategy is looked up, run and its page shaped:
unlabeled only, sorted by confidence in its batch type, exhaustion typed, and a diverse,
representative page (`choose_spread`) while the pool is cold (no head, no text prior) for every
strategy that ranks by scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UnknownStrategy
from .active_search import make_active_search
from .base import PageKind, Pool, PoolExhausted, Selection, sort_by_confidence
from .confidence import choose_borderline, choose_verify_negatives, choose_verify_positives
from .diversity import choose_kmeans, choose_random, choose_spread
from .hunt_refine import make_hunt_refine
from .hybrid import make_hybrid
from .similar import choose_similar

AUDIT = "audit"  # random audit cards only
REVIEW = "review"  # labeled items whose out-of-fold prediction disagrees with their label
HUNTING = frozenset({"head", "prior", "index"})

CATALOG: dict[str, PageKind] = {
    kind.name: kind
    for kind in (
        PageKind("borderline", "Borderline (most uncertain)", "neutral", choose_borderline),
        PageKind("verify_positives", "Verify positives", "positive", choose_verify_positives),
        PageKind("verify_negatives", "Verify negatives", "negative", choose_verify_negatives),
        PageKind("kmeans", "Diverse (k-means)", "neutral", choose_kmeans, needs=frozenset({"index"})),
        PageKind("random", "Random", "neutral", choose_random, needs=frozenset(), diverse_when_cold=False),
        PageKind("hybrid", "Hybrid (diverse, fairly sure)", "neutral", make_hybrid(), needs=HUNTING),
        PageKind("hunt_refine", "Hunt rare positives, then refine", "neutral", make_hunt_refine(), needs=HUNTING),
        PageKind("active_search", "Find every positive (active search)", "positive", make_active_search(),
                 needs=HUNTING),
        PageKind("similar", "More like this (nearest items)", "positive", choose_similar,
                 needs=frozenset({"exemplars", "index"}), starts="positive", diverse_when_cold=False),
        PageKind(AUDIT, "Audit (random cards)", "neutral", None, needs=frozenset(), diverse_when_cold=False,
                 page="audit"),
        PageKind(REVIEW, "Review labels (suspected errors)", "neutral", None, needs=frozenset({"labeled"}),
                 starts="label", diverse_when_cold=False, page="review", in_menu=False),
    )
}
# the kinds picked from the unlabeled pool, by name (a view of the catalog)
STRATEGIES: dict[str, PageKind] = {name: kind for name, kind in CATALOG.items() if kind.page == "pool"}


def page_kind(name: str) -> PageKind:
    """A catalog entry by name; an unknown name is an UnknownStrategy (400) that lists the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise UnknownStrategy(f"unknown strategy {name!r}; choose one of: {', '.join(CATALOG)}") from None


def get_strategy(name: str) -> PageKind:
    """A strategy (a kind picked from the pool) by name."""
    kind = page_kind(name)
    if kind.choose is None:
        raise UnknownStrategy(f"{name!r} is not picked from the unlabeled pool; choose one of: {', '.join(STRATEGIES)}")
    return kind


def simulated() -> list[str]:
    """The kinds a simulated labeler can run unprompted: pool strategies that need no exemplars."""
    return [name for name, kind in STRATEGIES.items() if not kind.needs_examples]


def select(name: str, pool: Pool, n: int) -> Selection:
    """Run a strategy by name and shape its answer: unlabeled only, sorted, exhaustion typed."""
    strategy = get_strategy(name)
    assert strategy.choose is not None
    choose = choose_spread if pool.cold and strategy.diverse_when_cold else strategy.choose
    batch_type = strategy.batch_type
    try:
        if n <= 0:
            pool.unlabeled_or_raise()
            return Selection(np.empty(0, np.int64), batch_type, name)
        ids = np.asarray(choose(pool, n), dtype=np.int64)
    except PoolExhausted as done:
        return Selection(np.empty(0, np.int64), strategy.batch_type, name, exhausted=True, message=str(done))
    ids = ids[~pool.labeled[ids]]
    return Selection(sort_by_confidence(ids, pool.probs, batch_type), batch_type, name, prelabel=strategy.prelabel)


def menu() -> list[dict[str, Any]]:
    """The page's strategy menu (and the API's list): the catalog's entries shown there, in order."""
    return [kind.to_dict() for kind in CATALOG.values() if kind.in_menu]
