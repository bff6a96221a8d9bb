"""The page commands of the session: the next page (any kind of the catalog) and the review page.

A page is chosen off the journal's lock (engine.optimistic): the pool is snapshotted under it, the
strategy or the review page's fold heads run without it, and the page is recorded under it if the
state still holds (else chosen again; the last try is made under the lock). An unanswered page is
served again as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ..events import BatchServed, ItemsAdded, QuerySet, SessionState
from ..learner.base import Pool
from ..learner.registry import REVIEW, page_kind, select
from ..users import OWNER
from .pages import Page, audit_count, audit_only, compose_page, overlap_count, overlap_sample, served_again
from .replies import Batch
from .review import ReviewPage, own_labels, review_page, still_valid

if TYPE_CHECKING:
    from ..learner.index import EmbeddingIndex
    from .engine import Engine
    from .leases import Leases
    from .training import Trainer

UNANSWERED_LOOKBACK = 2000  # events looked back through for a labeler's unanswered page


class PageCommands:
    """Serving pages, for LabelingSession (session.py), which provides the attributes named here."""

    engine: Engine
    trainer: Trainer
    leases: Leases
    index: EmbeddingIndex
    embeddings: np.ndarray
    available: np.ndarray
    n_items: int
    audit_per_page: int
    overlap_now: int  # SessionQueries' property
    state: SessionState  # SessionQueries' property

    def pool(self, exemplars: Sequence[int] = (), vectors: np.ndarray | None = None, labeler: str = OWNER,
             held: np.ndarray | None = None) -> Pool:
        """What a strategy may look at now for `labeler`: items not served (gone, unreadable), labeled by
        anyone, or leased to another labeler (`held`, when already looked up) count as taken;
        `exemplars` and `vectors` are what a "similar" page searches around."""
        labeled = ~self.available
        labeled |= self.engine.labeled  # kept event by event, not rebuilt from the labels
        labeled[self.leases.held_by_others(labeler) if held is None else held] = True
        rng = np.random.default_rng([self.state.seed, self.state.last_seq])
        trainer = self.trainer
        return Pool(self.embeddings, trainer.ranking(), labeled, dict(self.state.labels), rng,
                    has_head=trainer.has_head, has_prior=trainer.scores.prior is not None, index=self.index,
                    exemplars=tuple(int(i) for i in exemplars), query_vectors=vectors)

    def next_batch(self, strategy: str, batch_size: int, *, exemplars: Sequence[int] = (),
                   vectors: np.ndarray | None = None, labeler: str = OWNER) -> Batch:
        """Serve a page of the catalog's kind `strategy` (a strategy's picks plus a few audit cards,
        audit cards only, or a review page) and record it. The strategy runs off the lock on a
        snapshot of the pool; an unanswered page is served again.

        `exemplars` (item ids) and `vectors` (embedded images) are what a "similar" page searches around.
        `labeler` is served cards nobody else holds, plus a few overlap cards someone else labeled.
        """
        if page_kind(strategy).page == "review":
            return self.review(batch_size, labeler)
        return self.engine.optimistic(*self._page_plan(strategy, batch_size, exemplars, vectors, labeler))

    def upcoming(self, strategy: str, batch_size: int, labeler: str = OWNER) -> list[int]:
        """The ids `next_batch` would serve `labeler` now, recording nothing: what to draw ahead of the ask
        (a review page: none). The same page as long as nothing is recorded meanwhile, since the pool's
        random draws are seeded by the journal's position."""
        if page_kind(strategy).page == "review":
            return []
        snapshot, choose, _ = self._page_plan(strategy, batch_size, (), None, labeler, grant=False)
        with self.engine.lock:
            taken = snapshot()
        return list(taken.ids) if isinstance(taken, Batch) else [int(i) for i in choose(taken).ids]

    def _page_plan(self, strategy: str, batch_size: int, exemplars: Sequence[int], vectors: np.ndarray | None,
                   labeler: str, grant: bool = True) -> tuple[Callable[[], Any], Callable[[Any], Page],
                                                             Callable[[Any, Page, bool], Batch | None]]:
        """(snapshot, choose, record) of a strategy's page, for engine.optimistic; `grant`: an unanswered
        page found by the snapshot is leased to `labeler` again."""
        kind = page_kind(strategy)
        self.index.start()  # no-op once started (the workspace starts it as soon as the embeddings exist)
        n_audit = audit_count(batch_size, self.audit_per_page, audit_page=kind.page == "audit")
        searched = bool(exemplars) or vectors is not None

        def snapshot() -> tuple[SessionState, Pool, np.ndarray] | Batch:
            st = self.state
            held = self.leases.held_by_others(labeler)
            last = None if searched else self._unanswered(labeler)
            # not served again once someone else holds one of its cards (their leases ended with their tab)
            if last is not None and last.strategy == strategy and len(last.ids) == batch_size \
                    and not np.isin(own_cards(last), held).any():
                if grant:
                    self.leases.grant(labeler, last.ids)
                return served_again(last, kind.prelabel, self.trainer.cold, st.concept)
            return st, self.pool(exemplars, vectors, labeler, held), held

        def choose(taken: tuple[SessionState, Pool, np.ndarray]) -> Page:
            seen, pool, held = taken
            overlap = np.empty(0, np.int64)
            if kind.choose is not None and not searched:
                blocked = np.zeros(self.n_items, dtype=bool)
                blocked[held] = True
                overlap = overlap_sample(pool.rng, seen.votes, labeler,
                                         overlap_count(batch_size, self.overlap_now), blocked)
            chosen = audit_only(strategy) if kind.choose is None else \
                select(strategy, pool, batch_size - n_audit - overlap.size)
            return compose_page(chosen, pool, n_audit, seen.concept, overlap)

        def record(taken: tuple[SessionState, Pool, np.ndarray], page: Page, last: bool) -> Batch | None:
            if self.state is not taken[0] and not self._still_fits(taken, page, labeler):  # choose again
                if not last:
                    return None
                again = snapshot()  # a busy session: chosen under the lock this time
                if isinstance(again, Batch):
                    return again
                taken, page = again, choose(again)
            return self._serve(strategy, page, taken[1].probs, labeler)

        return snapshot, choose, record

    def _unanswered(self, labeler: str) -> BatchServed | None:
        """`labeler`'s latest page, when nothing they did, no query and no new items came after it and
        none of its cards was labeled since (by someone whose lease on it had lapsed); alone on a
        concept: the page served last, with nothing recorded after it."""
        events = self.engine.log.events
        for k in range(len(events) - 1, max(-1, len(events) - 1 - UNANSWERED_LOOKBACK), -1):
            event = events[k]
            if isinstance(event, BatchServed) and event.labeler == labeler:
                labels, overlap = self.state.labels, set(event.overlap)
                return None if any(i in labels for i in event.ids if i not in overlap) else event
            if getattr(event, "labeler", None) == labeler or isinstance(event, (QuerySet, ItemsAdded)):
                return None
        return None

    def _still_fits(self, taken: tuple[SessionState, Pool, np.ndarray], page: Page, labeler: str) -> bool:
        """Whether a page chosen on an older state may be served as chosen: only other labelers' pages
        and labels came meanwhile (the same head, query and items), and none of its cards was labeled
        or leased to someone else since. A team's pages are then not chosen again at every event."""
        seen, pool, _ = taken
        if self.trainer.ranking() is not pool.probs or self.state.n_items != seen.n_items:
            return False
        fresh = own_cards(page)
        return not self.engine.labeled[fresh].any() and not np.isin(fresh, self.leases.held_by_others(labeler)).any()

    def _serve(self, strategy: str, page: Page, probs: Any, labeler: str) -> Batch:
        """Record a composed page as served to `labeler` and lease its cards to them (under the journal's
        lock); `probs`: the pool's, by id."""
        if page.ids.size == 0:
            return Batch(None, [], [], page.batch_type, strategy, True, page.message)
        ids = [int(i) for i in page.ids]
        shown = [round(float(p), 5) for p in probs[page.ids]]
        overlap = [int(i) for i in page.overlap]
        event, _ = self.engine.record(BatchServed, strategy=strategy, batch_type=page.batch_type, ids=tuple(ids),
                                      probs=tuple(shown), audit=tuple(int(a) for a in page.audit),
                                      audit_pool=page.audit_pool, labeler=labeler, overlap=tuple(overlap))
        self.leases.grant(labeler, ids)
        return Batch(event.seq, ids, shown, page.batch_type, strategy, message=page.message, prelabel=page.prelabel,
                     starts=page.start_labels(probs), audit=[int(a) for a in page.audit], overlap=overlap)

    def review(self, size: int, labeler: str = OWNER) -> Batch:
        """A page of labeled items whose out-of-fold prediction disagrees most with the human label,
        recorded as served (kind "review") so the next review page shows others. The fold heads are
        fitted off the lock; when a card's label changed meanwhile, or another review page showed
        it, the page is computed again, and the last try drops those cards."""
        config = self.trainer.learner.config

        def record(seen: SessionState, page: ReviewPage, last: bool) -> Batch | None:
            keep = still_valid(page, seen, self.state)
            if not keep.all() and not last:
                return None
            if not keep.any():
                return Batch(None, [], [], "neutral", REVIEW, True, page.message)
            ids, probs = [int(i) for i in page.ids[keep]], [round(float(p), 5) for p in page.probs[keep]]
            event, _ = self.engine.record(BatchServed, strategy=REVIEW, batch_type="neutral", ids=tuple(ids),
                                          probs=tuple(probs), labeler=labeler)
            return Batch(event.seq, ids, probs, "neutral", REVIEW)

        def page(seen: SessionState) -> ReviewPage:  # a labeler reviews their own labels
            return review_page(own_labels(seen, labeler), self.embeddings, size, config=config)

        return self.engine.optimistic(lambda: self.state, page, record)


def own_cards(page: Page | BatchServed) -> np.ndarray:
    """A page's cards but its overlap cards (those are shared with other labelers on purpose)."""
    return np.setdiff1d(np.asarray(page.ids, np.int64), np.asarray(page.overlap, np.int64))
