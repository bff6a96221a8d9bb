"""The catalog of strategies by name: the API, the UI menu and the benchmark all read it.

It sits above the single strategies and the hybrid (they never import it), and `select` is the
one place a strategy is looked up, run and its page shaped: unlabeled only, sorted by confidence
in its batch type, exhaustion typed, and a diverse, representative page (`choose_spread`) while the
pool is cold (no head, no text prior) for every strategy that ranks by scores.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnknownStrategy
from .active_search import make_active_search
from .base import Pool, PoolExhausted, Selection, Strategy, sort_by_confidence
from .confidence import choose_borderline, choose_verify_negatives, choose_verify_positives
from .diversity import choose_kmeans, choose_random, choose_spread
from .hunt_refine import make_hunt_refine
from .hybrid import make_hybrid
from .similar import choose_similar

STRATEGIES: dict[str, Strategy] = {
    s.name: s
    for s in (
        Strategy("borderline", "Borderline (most uncertain)", "neutral", choose_borderline),
        Strategy("verify_positives", "Verify positives", "positive", choose_verify_positives),
        Strategy("verify_negatives", "Verify negatives", "negative", choose_verify_negatives),
        Strategy("kmeans", "Diverse (k-means)", "neutral", choose_kmeans),
        Strategy("random", "Random", "neutral", choose_random, diverse_when_cold=False),
        Strategy("hybrid", "Hybrid (diverse, fairly sure)", "neutral", make_hybrid()),
        Strategy("hunt_refine", "Hunt rare positives, then refine", "neutral",
                 make_hunt_refine()),
        Strategy("active_search", "Find every positive (active search)", "positive", make_active_search()),
        Strategy("similar", "More like this (nearest items)", "positive",
                 choose_similar, diverse_when_cold=False, needs_examples=True, prelabel=1),
    )
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UnknownStrategy(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}") from None


def select(name: str, pool: Pool, n: int) -> Selection:
    """Run a strategy by name and shape its answer: unlabeled only, sorted, exhaustion typed."""
    strategy = get_strategy(name)
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


def menu() -> list[dict[str, str]]:
    """The strategies as the page's menu lists them."""
    return [{"name": s.name, "title": s.title, "batch_type": s.batch_type} for s in STRATEGIES.values()]


