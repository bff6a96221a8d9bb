"""The labeling session: a small command layer over the event log.

Every command records an event; the reducer folds it into state; then the event's effects
follow: a query's text prior, or a retrain at a model_trained event, after which followers
(the WebSocket push) hear about it. Replay runs the very same path over a stored log, so a
journal comes back to the same labels and, seeded, the same model. Retrains are coalesced:
submissions that arrive while the head trains wait, and the first to get the head trains
once for all of them; the model_trained event marks where, so a replay retrains at the same points.

Longer than its neighbours on purpose: this is the one place where commands meet the lock, the
journal and the effects. What can be pure lives beside it: pages.py, review.py, views.py,
training.py (which labels train), snapshots.py, replies.py (what commands answer).
"""

from __future__ import annotations

import bisect
import logging
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from ..errors import FastLabelError, InvalidInput, NothingToUndo, NoTextSide, RequestIdReused
from ..events import (
    BatchServed,
    DataSource,
    EncoderConfig,
    Event,
    EventLog,
    ItemsAdded,
    LabelsCorrected,
    LabelsSubmitted,
    ModelTrained,
    QuerySet,
    Retrain,
    SessionStarted,
    SessionState,
    SubmissionUndone,
    apply,
)
from ..learner.head import HeadConfig, pool_array
from ..learner.base import Pool
from ..learner.candidates import look_ahead
from ..learner.index import EmbeddingIndex
from ..learner.registry import STRATEGIES, menu, select
from ..learner.zeroshot import zero_shot_probs
from . import views
from .pages import (AUDIT_MENU_ENTRY, AUDIT_PAGE, audit_count, audit_only, cold_message, compose_page,
                    page_prelabel, start_labels)
from .review import REVIEW_STRATEGY, review_page
from .snapshots import EventDigest, HeadSnapshots, snapshot_dir
from .replies import Batch, Submitted, TextEncoder, Undone
from .training import TrainPoint, Trainer

log = logging.getLogger(__name__)
MAX_QUERY_CHARS = 500
Follower = Callable[["LabelingSession", TrainPoint], None]


class LabelingSession:
    """One labeling session over one pool of embeddings. Thread-safe: changes are serialised."""

    def __init__(
        self,
        embeddings: np.ndarray,
        log: EventLog | None = None,
        *,
        text_encoder: TextEncoder | None = None,
        head_config: HeadConfig | None = None,
        seed: int = 0,
        data_id: str = "",
        encoder_id: str = "",
        device: torch.device | None = None,
        audit_per_page: int = 2,
        available: np.ndarray | None = None,
        ids_may_grow: bool = False,
        concept: str = "positive",
        index: EmbeddingIndex | None = None,
        snapshots: bool | str | Path = True,
        data_source: DataSource | None = None,
        encoder_config: EncoderConfig | None = None,
    ) -> None:
        """`snapshots`: head snapshots to restart from (snapshots.py): True, beside the journal;
        a folder; or False, replay every retrain. `data_source` and `encoder_config` are recorded in a
        new journal's first event, so commands given the journal alone open the same pool."""
        self.audit_per_page = audit_per_page
        self.embeddings = pool_array(embeddings)  # float16 or float32, in place
        self.n_items = int(self.embeddings.shape[0])
        # which ids may be served (a folder's files come and go; None: all). A live view, not a copy
        self.available = np.ones(self.n_items, dtype=bool) if available is None else available
        self.ids_may_grow = ids_may_grow  # a folder's ids only grow: a longer id space is the same data
        self.text_encoder = text_encoder
        self.trainer = Trainer(self.embeddings, head_config, device)
        self.log = log if log is not None else EventLog()
        self.state = SessionState()
        self.index = index or EmbeddingIndex(self.embeddings)  # clustering + neighbours: started by the first page
        self._points: dict[int, TrainPoint] = {}  # measured retrains, by model_trained seq
        self._followers: list[Follower] = []
        self._lock = threading.RLock()  # the log and the state: held briefly
        self._train_lock = threading.Lock()  # the head: held while training
        self._labeled = np.zeros(self.n_items, dtype=bool)  # state.labels as a mask, kept event by event
        self._digest = EventDigest()  # of every event so far, for snapshots
        self._digest_at: dict[int, str] = {}  # the digest at each model_trained event not yet snapshotted
        self.snapshots = self._snapshot_store(snapshots)
        self._replay(self.log.events)
        if not self.log.events:
            self._record(SessionStarted, seed=seed, n_items=self.n_items, data=data_id, encoder=encoder_id,
                         concept=concept, source=data_source, encoder_config=encoder_config)
        self._check_matches(data_id)
        if self.state.n_items < self.n_items:  # the folder grew since the last start: its new ids exist now
            self._record(ItemsAdded, n_items=self.n_items)
        if self._untrained_changes():  # the process stopped between a submission and its retrain
            self._train_through(self.state.last_seq)

    @classmethod
    def replay(cls, events: Iterable[Event], embeddings: np.ndarray, **kwargs: Any) -> "LabelingSession":
        """Rebuild a session from its events (no journal is written)."""
        return cls(embeddings, EventLog(events), **kwargs)

    def _snapshot_store(self, snapshots: bool | str | Path) -> HeadSnapshots | None:
        if snapshots is False:
            return None
        if snapshots is True:
            return HeadSnapshots(snapshot_dir(self.log.journal), self.embeddings) if self.log.journal else None
        return HeadSnapshots(Path(snapshots), self.embeddings)

    def _replay(self, events: list[Event]) -> None:
        """Fold the log in with its effects, as live; from the newest head snapshot that matches it,
        when there is one, so only the retrains after it run again."""
        found = self.snapshots.latest(events, self.trainer.fits) if self.snapshots else None
        start = 0
        if found is not None:
            index, snapshot = found
            for event in events[: index + 1]:
                self._fold(event)
            query = next((e for e in reversed(events[: index + 1]) if isinstance(e, QuerySet)), None)
            if query is not None:
                self._follow(query, self.state)
            self.trainer.restore(snapshot.weights, len(self.state.labels))
            self._points.update({p["seq"]: TrainPoint(**p) for p in snapshot.points})
            start = index + 1
        for event in events[start:]:
            self._follow(event, self._fold(event))
        self.trainer.settle()

    def _fold(self, event: Event) -> SessionState:
        """Apply one event to the state, keeping the labeled mask and the events' digest in step."""
        before = self.state
        self.state = apply(before, event)
        self._digest.add(event)
        if isinstance(event, LabelsSubmitted):
            self._labeled[[item for item, _ in event.labels]] = True
        elif isinstance(event, SubmissionUndone) and before.submissions:
            for item in before.submissions[-1].previous:
                self._labeled[item] = item in self.state.labels
        elif isinstance(event, ModelTrained):
            self._digest_at[event.seq] = self._digest.hexdigest()
        return self.state

    def _check_matches(self, data_id: str) -> None:
        st = self.state
        if st.n_items != self.n_items and not (self.ids_may_grow and st.n_items < self.n_items):
            raise InvalidInput(f"this session was recorded on {st.n_items} items, but the data has {self.n_items}")
        if data_id and st.data and st.data != data_id:
            raise InvalidInput("this session was recorded on other data (fingerprints differ); "
                               "start a new session file or point at the original data")

    # -- events and their effects -------------------------------------------------------------
    def subscribe(self, follower: Follower) -> None:
        """Call `follower(session, point)` after every retrain from now on."""
        self._followers.append(follower)

    def _record(self, kind: type[Event], **payload: Any) -> tuple[Event, SessionState]:
        """Journal an event and fold it in; returns the state right after it, for its effects."""
        with self._lock:
            event = self.log.append(kind, **payload)
            return event, self._fold(event)

    def _follow(self, event: Event, state: SessionState) -> TrainPoint | None:
        """An event's effects, given the state just after it: the same live and in replay."""
        if isinstance(event, QuerySet):
            prior = zero_shot_probs(self.embeddings, np.asarray(event.embedding, np.float32), event.logit_scale)
            self.trainer.set_prior(prior, len(state.labels))
        elif isinstance(event, ModelTrained):
            point = self.trainer.retrain(event.seq, state, done=self._scored)
            self._points.setdefault(event.seq, point)  # `_scored` may have put the measured point first
            self._snapshot(event.seq, state)
            return point
        return None

    def _scored(self, point: TrainPoint) -> None:
        """A retrain's probabilities cover the whole pool: keep what it measured and tell the followers."""
        self._points[point.seq] = point
        for follower in self._followers:
            follower(self, point)

    def _snapshot(self, seq: int, state: SessionState) -> None:
        """Save the head every `snapshots.every` retrains of a journaled session."""
        digest = self._digest_at.pop(seq, None)
        store = self.snapshots
        if store is None or digest is None or self.log.journal is None or len(state.retrains) % store.every:
            return
        store.save(seq, digest, self.trainer.weights(), [p.to_dict() for p in list(self._points.values())])

    def _untrained_changes(self) -> bool:
        st = self.state
        return bool(st.history) and st.history[-1].seq > (st.retrains[-1].seq if st.retrains else 0)

    def _train_through(self, seq: int) -> TrainPoint:
        """Make sure the head has trained on every label change up to `seq`; returns the retrain that did."""
        with self._train_lock:
            done = self.state.retrains
            if done and done[-1].seq >= seq:  # a retrain that started after `seq` covered it
                return self._point(done[bisect.bisect_left([r.seq for r in done], seq)])
            event, snapshot = self._record(ModelTrained, n_labels=len(self.state.labels))
            point = self._follow(event, snapshot)
            assert point is not None
            return point

    def _train_after(self, seq: int) -> tuple[TrainPoint, str | None]:
        """Retrain after a change already journaled at `seq`. The change stands whatever happens here:
        if the retrain cannot run (a full disk refuses its model_trained line), the answer says so and
        the next change, or the next start, trains."""
        try:
            return self._train_through(seq), None
        except Exception as exc:
            if isinstance(exc, FastLabelError):
                log.warning("saved event %d, but could not retrain: %s", seq, exc)
            else:
                log.exception("saved event %d, but could not retrain", seq)
            st = self.state
            reason = str(exc) if isinstance(exc, FastLabelError) else "an internal error; see the server log"
            return TrainPoint(seq, len(st.labels), st.n_positive, None, None), \
                f"Saved, but the model did not retrain: {reason}"

    def _recorded(self, request_id: str | None, kind: type[Event]) -> Event | None:
        """The event a request id was already recorded with (a repeat), or None; 409 if it names another kind."""
        seq = self.state.event_of_request(request_id)
        if seq is None:
            return None
        event = next(e for e in reversed(self.state.history) if e.seq == seq)
        if not isinstance(event, kind):
            raise RequestIdReused(f"request_id {request_id} was used for another kind of change")
        return event

    # -- commands -----------------------------------------------------------------------------
    @property
    def has_text(self) -> bool:
        return bool(self.text_encoder is not None and self.text_encoder.has_text)

    def set_query(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("query must be a non-empty string")
        text = text.strip()
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters")
        if not self.has_text:
            raise NoTextSide("this encoder embeds images only, so zero-shot text queries are off; "
                             "start with --encoder clip to use them")
        assert self.text_encoder is not None
        emb = np.asarray(self.text_encoder.encode_text(text), dtype=np.float32)
        event, state = self._record(QuerySet, query=text, embedding=tuple(float(v) for v in emb),
                                    logit_scale=float(self.text_encoder.logit_scale))
        self._follow(event, state)
        return text

    def pool(self, exemplars: Sequence[int] = (), vectors: np.ndarray | None = None) -> Pool:
        """What a strategy may look at now: items not served (gone, unreadable) count as taken;
        `exemplars` and `vectors` are what a "similar" page searches around."""
        labeled = ~self.available
        labeled |= self._labeled  # kept event by event, not rebuilt from the labels
        rng = np.random.default_rng([self.state.seed, self.state.last_seq])
        trainer = self.trainer
        return Pool(self.embeddings, trainer.ranking(), labeled, dict(self.state.labels), rng,
                    has_head=trainer.has_head, has_prior=trainer.scores.prior is not None, index=self.index,
                    exemplars=tuple(int(i) for i in exemplars), query_vectors=vectors)

    def next_batch(self, strategy: str, batch_size: int, *, exemplars: Sequence[int] = (),
                   vectors: np.ndarray | None = None) -> Batch:
        """Choose a page with `strategy` (plus a few audit cards) and record that it was served.

        `exemplars` (item ids) and `vectors` (embedded images) are what a "similar" page searches around.
        """
        self.index.start()  # no-op once started (the workspace starts it as soon as the embeddings exist)
        with self._lock:
            last = self.state.batches[-1] if self.state.batches else None
            if last is not None and last.seq == self.state.last_seq and last.strategy == strategy \
                    and len(last.ids) == batch_size and not exemplars and vectors is None:
                # the same page, still unanswered: serve it again, its cards starting as they did
                return self._served_again(last, strategy)
            pool = self.pool(exemplars, vectors)
            audit_page = strategy == AUDIT_PAGE
            n_audit = audit_count(batch_size, self.audit_per_page, audit_page=audit_page)
            chosen = audit_only() if audit_page else select(strategy, pool, batch_size - n_audit)
            page = compose_page(chosen, pool, n_audit, self.state.concept)
            if page.ids.size == 0:
                return Batch(None, [], [], page.batch_type, strategy, True, page.message)
            ids = [int(i) for i in page.ids]
            probs = [round(float(p), 5) for p in pool.probs[page.ids]]
            event, _ = self._record(BatchServed, strategy=strategy, batch_type=page.batch_type, ids=tuple(ids),
                                    probs=tuple(probs), audit=tuple(int(a) for a in page.audit),
                                    audit_pool=page.audit_pool)
        return Batch(event.seq, ids, probs, page.batch_type, strategy, message=page.message, prelabel=page.prelabel,
                     starts=page.start_labels(pool.probs), audit=[int(a) for a in page.audit])

    def _served_again(self, last: BatchServed, strategy: str) -> Batch:
        """An unanswered page served again: nothing was recorded since, so the pool is as cold as it was."""
        trainer = self.trainer
        cold = not trainer.has_head and trainer.scores.prior is None
        known = STRATEGIES.get(strategy)
        prelabel = page_prelabel(known.prelabel if known is not None else None, cold)
        message = cold_message(self.state.concept) if cold and prelabel == 0 else None
        starts = start_labels(last.ids, last.probs, last.audit, prelabel, cold)
        return Batch(last.seq, list(last.ids), list(last.probs), last.batch_type, strategy, message=message,
                     prelabel=prelabel, starts=starts, audit=list(last.audit))

    def submit(self, labels: Sequence[tuple[int, int]], *, batch_id: int | None = None,
               page_ms: int | None = None, clicks: int | None = None, request_id: str | None = None) -> Submitted:
        """Record a confirmed page of checked (id, label) pairs and retrain. A request id seen before
        answers with that submission instead of applying it again."""
        with self._lock:
            first = self._recorded(request_id, LabelsSubmitted)
            if first is None:
                if batch_id is not None and self.state.batch(batch_id) is None:
                    raise InvalidInput(f"unknown batch_id {batch_id}")
                event, _ = self._record(LabelsSubmitted, labels=tuple(labels), batch_id=batch_id,
                                        page_ms=page_ms, clicks=clicks, request_id=request_id)
            elif tuple(first.labels) != tuple(labels):  # type: ignore[attr-defined]
                raise RequestIdReused(f"request_id {request_id} was used for other labels")
        if first is None:  # on a large pool, the next hunt's neighbours are looked up while the head trains
            look_ahead(self.index, self.embeddings, [i for i, y in labels if y == 1])
        seq = event.seq if first is None else first.seq
        point, warning = self._train_after(seq)
        return Submitted(seq, point, repeated=first is not None, warning=warning)

    def undo(self, request_id: str | None = None) -> Undone:
        """Take back the latest submission; returns its labels, the page they came from and the retrain.
        A request id seen before answers with the undo it made instead of taking back another page."""
        with self._lock:
            first = self._recorded(request_id, SubmissionUndone)
            if first is None:
                if not self.state.submissions:
                    raise NothingToUndo("nothing to undo")
                last = self.state.submissions[-1]
                event, _ = self._record(SubmissionUndone, submission=last.seq, request_id=request_id)
                labels, batch_id, seq = last.labels, last.batch_id, event.seq
            else:
                taken = next(e for e in self.state.history if e.seq == first.submission)  # type: ignore[attr-defined]
                labels, batch_id, seq = taken.labels, taken.batch_id, first.seq  # type: ignore[union-attr]
            page = self.state.batch(batch_id) if batch_id is not None else None
        point, warning = self._train_after(seq)
        return Undone(labels, page, point, repeated=first is not None, warning=warning)

    def review(self, size: int) -> Batch:
        """A page of labeled items whose out-of-fold prediction disagrees most with the human label,
        recorded as served (strategy "review") so the next review page shows others."""
        with self._lock:
            page = review_page(self.state, self.embeddings, size, config=self.trainer.learner.config)
            if page.ids.size == 0:
                return Batch(None, [], [], "neutral", REVIEW_STRATEGY, True, page.message)
            ids = [int(i) for i in page.ids]
            probs = [round(float(p), 5) for p in page.probs]
            event, _ = self._record(BatchServed, strategy=REVIEW_STRATEGY, batch_type="neutral", ids=tuple(ids),
                                    probs=tuple(probs))
        return Batch(event.seq, ids, probs, "neutral", REVIEW_STRATEGY)

    def correct(self, labels: Sequence[tuple[int, int]], *, origin: str, batch_id: int | None = None,
                request_id: str | None = None) -> Submitted:
        """Change labels already given (from a review page or the labeled gallery) and retrain; a
        request id seen before answers with that correction instead of applying it again."""
        with self._lock:
            first = self._recorded(request_id, LabelsCorrected)
            if first is None:
                unknown = [i for i, _ in labels if i not in self.state.labels]
                if unknown:
                    raise InvalidInput(f"only labeled items can be corrected; not labeled: {unknown[:10]}")
                if batch_id is not None and self.state.batch(batch_id) is None:
                    raise InvalidInput(f"unknown batch_id {batch_id}")
                event, _ = self._record(LabelsCorrected, labels=tuple(labels), origin=origin, batch_id=batch_id,
                                        request_id=request_id)
            elif tuple(first.labels) != tuple(labels):  # type: ignore[attr-defined]
                raise RequestIdReused(f"request_id {request_id} was used for other labels")
        seq = event.seq if first is None else first.seq
        point, warning = self._train_after(seq)
        return Submitted(seq, point, repeated=first is not None, warning=warning)

    # -- queries ------------------------------------------------------------------------------
    @property
    def probs(self) -> np.ndarray:
        """Every item's probability under the newest head whose pass over the pool is done."""
        return self.trainer.scores.probs

    def settle(self) -> None:
        """Wait until `probs` covers the newest retrain (at once, except on a large pool)."""
        self.trainer.settle()

    def _point(self, retrain: Retrain) -> TrainPoint:
        """A retrain as measured, or as the log records it when it was not measured here."""
        return self._points.get(retrain.seq) or TrainPoint(retrain.seq, retrain.labeled, retrain.positive, None, None)

    def history(self) -> list[TrainPoint]:
        """Every retrain in log order, from the model_trained events, with what was measured."""
        return [self._point(r) for r in self.state.retrains]

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """P(positive) for items outside the pool (a held-out test set), blended with the text prior
        as `probs` is; the prior is centred on these items' own mean similarity."""
        x = np.asarray(embeddings, dtype=np.float32)
        with self._train_lock:
            st = self.state
            prior = None
            if st.query_embedding is not None:
                prior = zero_shot_probs(x, np.asarray(st.query_embedding, np.float32), st.query_logit_scale)
            return self.trainer.score(x, prior, len(st.labels))

    def counts(self) -> dict[str, int]:
        return views.counts(self.state)

    def export_labels_jsonl(self, names: Sequence[str] | None = None) -> bytes:
        return views.labels_jsonl(self.state.labels, names, self.state.concept)

    def export_events_jsonl(self) -> bytes:
        return self.log.to_jsonl()

    def insights(self) -> dict[str, Any]:
        """Effort figures, quality estimates and the stopping signal, all derived from the log."""
        return views.insights(self.state, self.probs, self.history(), self.available)

    def predictions(self) -> dict[str, Any]:
        return views.predictions(self.state, self.probs, self.available)

    @staticmethod
    def strategy_menu() -> list[dict[str, str]]:
        return [*menu(), AUDIT_MENU_ENTRY]
