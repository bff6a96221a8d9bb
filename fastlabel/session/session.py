"""The labeling session's command layer: each command checks its input, records one event through
the effect engine (engine.py) and answers (replies.py); what follows an event (a retrain, the push)
is the engine's. Here: construction and the label commands (submit, correct, undo, resolve, query,
goal), with the one idempotent-command helper; the page commands are page_commands.py's.

Locks: a command holds the journal's lock only to read the state and record its event; the slow
parts run outside it (engine.optimistic): a page's strategy runs on a snapshot of the pool, a review
page's fold heads on a snapshot of the labels, each recorded afterwards if it still holds. A submit
takes two locks: the journal's, and the head's while it retrains.
"""

from __future__ import annotations

import time

from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

import numpy as np
import torch

from ..errors import InvalidInput, NothingToUndo, NoTextSide, RequestIdReused
from ..events import (DataSource, EncoderConfig, Event, EventLog, GoalSet, ItemsAdded, LabelResolved, LabelsCorrected,
                      LabelsSubmitted, OverlapSet, QuerySet, SessionStarted, SubmissionUndone)
from ..learner.goals import Goal, get_goal
from ..learner.candidates import look_ahead
from ..learner.head import HeadConfig, pool_array
from ..learner.index import EmbeddingIndex
from ..users import OWNER
from .agreement import FLAG_BELOW_KAPPA
from .engine import Engine, check_recorded_on, snapshot_store
from .followers import Follower
from .leases import LEASE_S, Leases, open_pages
from .page_commands import PageCommands
from .replies import Submitted, TextEncoder, Undone
from .queries import SessionQueries
from .training import Trainer

MAX_QUERY_CHARS = 500
E = TypeVar("E", bound=Event)


class LabelingSession(PageCommands, SessionQueries):
    """One labeling session over one pool of embeddings. Thread-safe: changes are serialised."""

    def __init__(self, embeddings: np.ndarray, log: EventLog | None = None, *, text_encoder: TextEncoder | None = None,
                 head_config: HeadConfig | None = None, seed: int = 0, data_id: str = "", encoder_id: str = "",
                 device: torch.device | None = None, audit_per_page: int = 2, available: np.ndarray | None = None,
                 ids_may_grow: bool = False, concept: str = "positive", index: EmbeddingIndex | None = None,
                 snapshots: bool | str | Path = True, data_source: DataSource | None = None,
                 encoder_config: EncoderConfig | None = None, overlap_per_page: int = 2, lease_s: float = LEASE_S,
                 flag_below_kappa: float = FLAG_BELOW_KAPPA, goal: str = "train") -> None:
        """`snapshots`: head snapshots to restart from (snapshots.py): True, beside the journal;
        a folder; or False, replay every retrain. `data_source` and `encoder_config` are recorded in a
        new journal's first event, so commands given the journal alone open the same pool.
        `overlap_per_page`: cards of each page already labeled by someone else (the agreement sample),
        until an admin sets it for the concept (set_overlap);
        `lease_s`: how long a served card stays its labeler's; `flag_below_kappa`: the agreement under
        which a labeler is flagged. `goal`: the goal in effect until one is stated."""
        self.audit_per_page = audit_per_page
        self.overlap_per_page = overlap_per_page
        self.flag_below_kappa = flag_below_kappa
        self.embeddings = pool_array(embeddings)  # float16 or float32, in place
        self.n_items = int(self.embeddings.shape[0])
        # which ids may be served (a folder's files come and go; None: all). A live view, not a copy
        self.available = np.ones(self.n_items, dtype=bool) if available is None else available
        self.ids_may_grow = ids_may_grow  # a folder's ids only grow: a longer id space is the same data
        self.text_encoder = text_encoder
        self.index = index or EmbeddingIndex(self.embeddings)  # clustering + neighbours: started by the first page
        log = log if log is not None else EventLog()
        self.trainer = Trainer(self.embeddings, head_config, device, available=self.available)
        self.engine = Engine(self.embeddings, log, self.trainer, snapshot_store(snapshots, log.journal, self.embeddings),
                             self.available)
        self.leases = Leases(lease_s, lock=self.engine.lock)  # held briefly, by the commands that hold it anyway
        self.engine.default_goal = get_goal(goal).name
        self.engine.replay(log.events)
        if not log.events:
            self.engine.record(SessionStarted, seed=seed, n_items=self.n_items, data=data_id, encoder=encoder_id,
                               concept=concept, source=data_source, encoder_config=encoder_config)
        check_recorded_on(self.state, self.n_items, self.ids_may_grow, data_id)
        if self.state.n_items < self.n_items:  # the folder grew since the last start: its new ids exist now
            self.engine.record(ItemsAdded, n_items=self.n_items)
        if self.engine.policy.due_at_start(self.state):  # stopped between a submission and its retrain
            self.engine.train_through(self.state.last_seq)
        self.leases.restore(open_pages(self.state, time.time(), lease_s))  # pages on screens when it stopped

    @classmethod
    def replay(cls, events: Iterable[Event], embeddings: np.ndarray, **kwargs: Any) -> "LabelingSession":
        """Rebuild a session from its events (no journal is written)."""
        return cls(embeddings, EventLog(events), **kwargs)

    def subscribe(self, follower: Follower) -> None:
        """Call `follower(message)` (a followers.Retrained) after every retrain from now on, off every lock."""
        self.engine.subscribe(follower)

    # -- commands -----------------------------------------------------------------------------
    def _once(self, request_id: str | None, kind: type[E], record: Callable[[], E],
              labels: Sequence[tuple[int, int]] | None = None) -> tuple[E, bool]:
        """(event, repeated): the event `record` journals now, or the one this request id already
        recorded (answered, not applied again; 409 if it was another kind of change, or other labels)."""
        with self.engine.lock:
            seq = self.state.event_of_request(request_id)
            if seq is None:
                return record(), False
            first = next(e for e in reversed(self.state.history) if e.seq == seq)
            if not isinstance(first, kind):
                raise RequestIdReused(f"request_id {request_id} was used for another kind of change")
            if labels is not None and tuple(first.labels) != tuple(labels):  # type: ignore[attr-defined]
                raise RequestIdReused(f"request_id {request_id} was used for other labels")
            return first, True

    def _check_batch(self, batch_id: int | None) -> None:
        if batch_id is not None and self.state.batch(batch_id) is None:
            raise InvalidInput(f"unknown batch_id {batch_id}")

    @property
    def has_text(self) -> bool:
        return bool(self.text_encoder is not None and self.text_encoder.has_text)

    def set_query(self, text: Any, labeler: str = OWNER) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("query must be a non-empty string")
        text = text.strip()
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters")
        if not self.has_text:
            raise NoTextSide("this encoder has no text or class side, so zero-shot queries are off; "
                             "start with --encoder clip (images) or birdnet (audio) to use them")
        assert self.text_encoder is not None
        emb = np.asarray(self.text_encoder.encode_text(text), dtype=np.float32)  # a class: InvalidInput when unknown
        class_bias = getattr(self.text_encoder, "class_bias", None)  # an encoder whose text side is its classes
        kind = {"query_type": "class", "bias": float(class_bias(text))} if class_bias is not None else {}
        event, state = self.engine.record(QuerySet, query=text, embedding=tuple(float(v) for v in emb),
                                          logit_scale=float(self.text_encoder.logit_scale), labeler=labeler, **kind)
        self.engine.follow(event, state)
        return text

    def set_goal(self, goal: Any) -> Goal:
        """State what the labels are for ("find" every positive, or "train" a classifier): the
        panel's headline and stop signal follow it, and so does the page's default strategy."""
        chosen = get_goal(goal) if isinstance(goal, str) else get_goal(repr(goal))
        with self.engine.lock:
            if self.state.goal != chosen.name:
                self.engine.record(GoalSet, goal=chosen.name)
        return chosen

    def set_overlap(self, per_page: Any, labeler: str = OWNER) -> int:
        """Set how many cards of each page are overlap cards on this concept (an overlap_set event)."""
        if isinstance(per_page, bool) or not isinstance(per_page, int):
            raise InvalidInput(f"per_page must be a whole number of cards, got {per_page!r:.40}")
        with self.engine.lock:
            if per_page != self.overlap_now:
                self.engine.record(OverlapSet, per_page=per_page, labeler=labeler)
        return per_page

    def _alone(self, labeler: str) -> bool:
        """Nobody else is labeling this concept now: a change of `labeler`'s waits for its retrain
        (the next page is chosen with it); with others labeling, nobody waits for a retrain."""
        return not self.leases.others_hold(labeler)

    def submit(self, labels: Sequence[tuple[int, int]], *, batch_id: int | None = None,
               page_ms: int | None = None, clicks: int | None = None, request_id: str | None = None,
               labeler: str = OWNER) -> Submitted:
        """Record a confirmed page of checked (id, label) pairs by `labeler` and retrain; their leases on
        these cards end (a card whose lease lapsed is accepted all the same, and counted). A request id
        seen before answers with that submission instead of applying it again."""
        def record() -> LabelsSubmitted:
            self._check_batch(batch_id)
            return self.engine.record(LabelsSubmitted, labels=tuple(labels), batch_id=batch_id, page_ms=page_ms,
                                      clicks=clicks, request_id=request_id,
                                      labeler=labeler)[0]  # type: ignore[return-value]

        event, repeated = self._once(request_id, LabelsSubmitted, record, labels)
        if not repeated:
            self.leases.settle(labeler, [i for i, _ in labels])  # on a large pool, the next hunt's neighbours are looked up while the head trains
            look_ahead(self.index, self.embeddings, [i for i, y in labels if y == 1])
        point, warning, queued = self.engine.train_after(event.seq, wait=self._alone(labeler))
        return Submitted(event.seq, point, repeated=repeated, warning=warning, queued=queued)

    def correct(self, labels: Sequence[tuple[int, int]], *, origin: str, batch_id: int | None = None,
                request_id: str | None = None, labeler: str = OWNER) -> Submitted:
        """Change labels `labeler` already gave (from a review page or the labeled gallery) and retrain; a
        request id seen before answers with that correction instead of applying it again."""
        def record() -> LabelsCorrected:
            votes = self.state.votes
            unknown = [i for i, _ in labels if labeler not in votes.get(i, {})]
            if unknown:
                raise InvalidInput(f"only items you labeled can be corrected; not labeled by {labeler}: {unknown[:10]}")
            self._check_batch(batch_id)
            return self.engine.record(LabelsCorrected, labels=tuple(labels), origin=origin, batch_id=batch_id,
                                      request_id=request_id, labeler=labeler)[0]  # type: ignore[return-value]

        event, repeated = self._once(request_id, LabelsCorrected, record, labels)
        point, warning, queued = self.engine.train_after(event.seq, wait=self._alone(labeler))
        return Submitted(event.seq, point, repeated=repeated, warning=warning, queued=queued)

    def undo(self, request_id: str | None = None, labeler: str = OWNER) -> Undone:
        """Take back `labeler`'s latest submission (nobody else's); returns its labels, the page they came
        from and the retrain. The page on their screen is dropped (its leases end) and the page taken back
        is theirs again. A request id seen before answers with the undo it made instead of taking back another page."""
        def record() -> SubmissionUndone:
            latest = self.state.latest_submission(labeler)
            if latest is None:
                raise NothingToUndo("nothing to undo" if labeler == OWNER else f"{labeler} has nothing to undo")
            return self.engine.record(SubmissionUndone, submission=latest.seq, request_id=request_id,
                                      labeler=labeler)[0]  # type: ignore[return-value]

        event, repeated = self._once(request_id, SubmissionUndone, record)
        state = self.state
        taken = next(e for e in reversed(state.history) if e.seq == event.submission)  # nearly always recent
        if not repeated:
            self.leases.release(labeler)
            self.leases.grant(labeler, [i for i, _ in taken.labels if i not in state.labels])  # type: ignore[union-attr]
        batch_id = getattr(taken, "batch_id", None)  # a resolution has none
        page = state.batch(batch_id) if batch_id is not None else None
        point, warning, queued = self.engine.train_after(event.seq, wait=self._alone(labeler))
        return Undone(taken.labels, page, point, repeated=repeated, warning=warning, queued=queued)  # type: ignore[union-attr]

    def resolve(self, labels: Sequence[tuple[int, int]], *, labeler: str = OWNER,
                request_id: str | None = None) -> Submitted:
        """An admin's decision on items the labelers labeled (a label_resolved event): it overrides their
        labels for training and export, and the head retrains. Undone like a page, by its admin's undo."""
        def record() -> LabelResolved:
            unlabeled = [i for i, _ in labels if i not in self.state.votes]
            if unlabeled:
                raise InvalidInput(f"only labeled items can be resolved; not labeled: {unlabeled[:10]}")
            return self.engine.record(LabelResolved, labels=tuple(labels), labeler=labeler,
                                      request_id=request_id)[0]  # type: ignore[return-value]

        event, repeated = self._once(request_id, LabelResolved, record, labels)
        point, warning, queued = self.engine.train_after(event.seq)
        return Submitted(event.seq, point, repeated=repeated, warning=warning, queued=queued)
