"""The pure reducer: `apply(state, event) -> state`. Replaying the log is the only way state is rebuilt."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import reduce
from types import MappingProxyType
from typing import Iterable, Mapping

from .records import (
    BatchServed,
    Event,
    ItemsAdded,
    LabelsCorrected,
    LabelsSubmitted,
    ModelTrained,
    QuerySet,
    SessionStarted,
    SubmissionUndone,
)


@dataclass(frozen=True)
class Submission:
    """A submission still in effect, with what it overwrote so that undo can restore it."""

    seq: int
    labels: tuple[tuple[int, int], ...]
    previous: Mapping[int, int | None]
    batch_id: int | None = None
    page_ms: int | None = None
    clicks: int | None = None
    correction: str | None = None  # a LabelsCorrected's origin ("review", "gallery"); None for a page

    def changed(self) -> dict[int, int]:
        """The labels this submission changed (a correction may repeat a label already given)."""
        return {item: label for item, label in self.labels if self.previous.get(item) != label}


@dataclass(frozen=True)
class Retrain:
    """A model_trained event with the labels in effect when it was recorded: the learning trend's x and y."""

    seq: int
    labeled: int
    positive: int


@dataclass(frozen=True)
class SessionState:
    seed: int = 0
    n_items: int = 0
    data: str = ""
    encoder: str = ""
    concept: str = "positive"
    labels: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    query: str | None = None
    query_embedding: tuple[float, ...] | None = None
    query_logit_scale: float = 100.0
    batches: tuple[BatchServed, ...] = ()
    submissions: tuple[Submission, ...] = ()  # in effect, oldest first
    history: tuple[LabelsSubmitted | LabelsCorrected | SubmissionUndone, ...] = ()  # every label change, in order
    audit_ids: frozenset[int] = frozenset()  # served as audit cards: held out of training
    retrains: tuple[Retrain, ...] = ()
    last_seq: int = 0
    requests: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # request id -> its event

    @property
    def n_positive(self) -> int:
        return sum(1 for y in self.labels.values() if y == 1)

    @property
    def n_negative(self) -> int:
        return len(self.labels) - self.n_positive

    def first_labeled(self) -> dict[int, int]:
        """For each labeled item, the sequence number of the first submission in effect that labeled it."""
        first: dict[int, int] = {}
        for sub in self.submissions:
            for item, _ in sub.labels:
                first.setdefault(item, sub.seq)
        return first

    def corrected(self) -> dict[int, int]:
        """Items whose label a correction in effect changed -> the seq of the latest such correction."""
        out: dict[int, int] = {}
        for sub in self.submissions:
            if sub.correction is not None:
                out.update((item, sub.seq) for item in sub.changed())
        return out

    def last_labeled(self) -> dict[int, int]:
        """For each labeled item, the seq of the latest submission in effect that gave its label."""
        last: dict[int, int] = {}
        for sub in self.submissions:
            last.update((item, sub.seq) for item, _ in sub.labels)
        return last

    def event_of_request(self, request_id: str | None) -> int | None:
        """The sequence number of the event a request id was recorded with, if any."""
        return None if request_id is None else self.requests.get(request_id)

    def batch(self, batch_id: int) -> BatchServed | None:
        for b in reversed(self.batches):
            if b.seq == batch_id:
                return b
        return None


def _with_labels(state: SessionState, labels: dict[int, int], **changes) -> SessionState:
    return replace(state, labels=MappingProxyType(labels), **changes)


def apply(state: SessionState, event: Event) -> SessionState:
    """Fold one event into the state. Pure: returns a new state, never mutates."""
    state = replace(state, last_seq=event.seq)
    request_id = getattr(event, "request_id", None)
    if request_id is not None:  # a repeat of this request is answered, not applied again
        state = replace(state, requests=MappingProxyType({**state.requests, request_id: event.seq}))
    if isinstance(event, SessionStarted):
        return replace(state, seed=event.seed, n_items=event.n_items, data=event.data, encoder=event.encoder,
                       concept=event.concept)
    if isinstance(event, QuerySet):
        return replace(
            state, query=event.query, query_embedding=event.embedding, query_logit_scale=event.logit_scale
        )
    if isinstance(event, BatchServed):
        return replace(state, batches=state.batches + (event,), audit_ids=state.audit_ids | set(event.audit))
    if isinstance(event, (LabelsSubmitted, LabelsCorrected)):
        labels = dict(state.labels)
        previous: dict[int, int | None] = {}
        for item, label in event.labels:  # last write wins, within a page and across pages
            previous.setdefault(item, labels.get(item))
            labels[item] = label
        if isinstance(event, LabelsSubmitted):
            sub = Submission(event.seq, event.labels, MappingProxyType(previous), event.batch_id, event.page_ms,
                             event.clicks)
        else:
            sub = Submission(event.seq, event.labels, MappingProxyType(previous), event.batch_id,
                             correction=event.origin)
        return _with_labels(state, labels, submissions=state.submissions + (sub,), history=state.history + (event,))
    if isinstance(event, SubmissionUndone):
        if not state.submissions or state.submissions[-1].seq != event.submission:
            return state  # only the latest submission in effect can be undone; anything else is a no-op
        undone = state.submissions[-1]
        labels = dict(state.labels)
        for item, before in undone.previous.items():
            if before is None:
                labels.pop(item, None)
            else:
                labels[item] = before
        return _with_labels(state, labels, submissions=state.submissions[:-1], history=state.history + (event,))
    if isinstance(event, ItemsAdded):
        return replace(state, n_items=max(state.n_items, event.n_items))
    if isinstance(event, ModelTrained):
        return replace(state, retrains=state.retrains + (Retrain(event.seq, len(state.labels), state.n_positive),))
    return state


def fold(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    return reduce(apply, events, state or SessionState())
