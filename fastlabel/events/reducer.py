"""The pure reducer: `apply(state, event) -> state`. Replaying the log is the only way state is rebuilt."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import reduce
from types import MappingProxyType
from typing import Iterable, Mapping

from ..users import OWNER
from .label_policy import Vote, label_in_effect
from .records import (
    BatchServed,
    Event,
    GoalSet,
    OverlapSet,
    ItemsAdded,
    LabelResolved,
    LabelsCorrected,
    LabelsSubmitted,
    ModelTrained,
    QuerySet,
    SessionStarted,
    SubmissionUndone,
)

RESOLVED = "resolved"  # the `correction` of a Submission made by a LabelResolved


@dataclass(frozen=True)
class Submission:
    """A submission still in effect, with what it overwrote so that undo can restore it: `previous` is
    the label its labeler had given each item before (for a resolution: the previous resolution), and
    `restore` the whole vote (label and seq) to put back."""

    seq: int
    labels: tuple[tuple[int, int], ...]
    previous: Mapping[int, int | None]
    batch_id: int | None = None
    page_ms: int | None = None
    clicks: int | None = None
    correction: str | None = None  # a LabelsCorrected's origin ("review", "gallery"), "resolved"; None for a page
    labeler: str = OWNER
    restore: Mapping[int, Vote | int | None] = field(default_factory=lambda: MappingProxyType({}))

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
    goal: str | None = None  # the user's stated goal ("find" | "train"); None: the configured default
    overlap_per_page: int | None = None  # overlap cards per page as an admin set it; None: the configured default
    query_embedding: tuple[float, ...] | None = None
    query_logit_scale: float = 100.0
    query_type: str = "text"  # "class": a classifier's class, scored sigmoid(x . embedding + bias)
    query_bias: float = 0.0
    batches: tuple[BatchServed, ...] = ()
    submissions: tuple[Submission, ...] = ()  # in effect, oldest first
    history: tuple[LabelsSubmitted | LabelsCorrected | LabelResolved | SubmissionUndone, ...] = ()  # every label change, in order
    audit_ids: frozenset[int] = frozenset()  # served as audit cards: held out of training
    retrains: tuple[Retrain, ...] = ()
    last_seq: int = 0
    requests: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))  # request id -> its event
    # item -> labeler -> (label, seq): every labeler's own label; `labels` is label_policy's choice among them
    votes: Mapping[int, Mapping[str, Vote]] = field(default_factory=lambda: MappingProxyType({}))
    resolved: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))  # an admin's decision

    def submission(self, seq: int) -> Submission | None:
        """The submission in effect recorded at `seq`, if any."""
        return next((s for s in reversed(self.submissions) if s.seq == seq), None)

    def latest_submission(self, labeler: str) -> Submission | None:
        """The labeler's latest submission (page, correction or resolution) still in effect: what their undo takes back."""
        return next((s for s in reversed(self.submissions) if s.labeler == labeler), None)

    def labelers(self) -> list[str]:
        """Everyone who has a label in effect, by name."""
        return sorted({name for votes in self.votes.values() for name in votes})

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
            if sub.correction not in (None, RESOLVED):
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
            state, query=event.query, query_embedding=event.embedding, query_logit_scale=event.logit_scale,
            query_type=event.query_type, query_bias=event.bias,
        )
    if isinstance(event, GoalSet):
        return replace(state, goal=event.goal)
    if isinstance(event, OverlapSet):
        return replace(state, overlap_per_page=event.per_page)
    if isinstance(event, BatchServed):
        return replace(state, batches=state.batches + (event,), audit_ids=state.audit_ids | set(event.audit))
    if isinstance(event, (LabelsSubmitted, LabelsCorrected)):
        return _vote(state, event)
    if isinstance(event, LabelResolved):
        return _resolve(state, event)
    if isinstance(event, SubmissionUndone):
        return _undo(state, event)
    if isinstance(event, ItemsAdded):
        return replace(state, n_items=max(state.n_items, event.n_items))
    if isinstance(event, ModelTrained):
        return replace(state, retrains=state.retrains + (Retrain(event.seq, len(state.labels), state.n_positive),))
    return state


def _settle(labels: dict[int, int], item: int, votes: Mapping[str, Vote], resolved: int | None) -> None:
    label = label_in_effect(votes, resolved)
    if label is None:
        labels.pop(item, None)
    else:
        labels[item] = label


def _vote(state: SessionState, event: LabelsSubmitted | LabelsCorrected) -> SessionState:
    """A labeler's labels replace their own earlier ones (last write wins, within a page and across pages)."""
    who = event.labeler
    labels, votes = dict(state.labels), dict(state.votes)
    previous: dict[int, int | None] = {}
    restore: dict[int, Vote | None] = {}
    for item, label in event.labels:
        mine = dict(votes.get(item, {}))
        if item not in restore:
            restore[item] = mine.get(who)
            previous[item] = mine[who][0] if who in mine else None
        mine[who] = (label, event.seq)
        votes[item] = MappingProxyType(mine)
        _settle(labels, item, mine, state.resolved.get(item))
    correction = event.origin if isinstance(event, LabelsCorrected) else None
    extra = {"page_ms": event.page_ms, "clicks": event.clicks} if isinstance(event, LabelsSubmitted) else {}
    sub = Submission(event.seq, event.labels, MappingProxyType(previous), event.batch_id, correction=correction,
                     labeler=who, restore=MappingProxyType(restore), **extra)
    return _with_labels(state, labels, votes=MappingProxyType(votes), submissions=state.submissions + (sub,),
                        history=state.history + (event,))


def _resolve(state: SessionState, event: LabelResolved) -> SessionState:
    labels, resolved = dict(state.labels), dict(state.resolved)
    previous: dict[int, int | None] = {}
    for item, label in event.labels:
        previous.setdefault(item, resolved.get(item))
        resolved[item] = label
        _settle(labels, item, state.votes.get(item, {}), label)
    sub = Submission(event.seq, event.labels, MappingProxyType(previous), correction=RESOLVED, labeler=event.labeler,
                     restore=MappingProxyType(dict(previous)))
    return _with_labels(state, labels, resolved=MappingProxyType(resolved), submissions=state.submissions + (sub,),
                        history=state.history + (event,))


def _undo(state: SessionState, event: SubmissionUndone) -> SessionState:
    """Takes back a submission in effect, which must be its labeler's latest (anything else is a no-op):
    that labeler's earlier labels come back, and nobody else's change."""
    undone = state.submission(event.submission)
    if undone is None or state.latest_submission(undone.labeler) is not undone:
        return state
    labels, votes, resolved = dict(state.labels), dict(state.votes), dict(state.resolved)
    for item, before in undone.restore.items():
        if undone.correction == RESOLVED:
            if before is None:
                resolved.pop(item, None)
            else:
                resolved[item] = before  # type: ignore[assignment]
        else:
            mine = dict(votes.get(item, {}))
            if before is None:
                mine.pop(undone.labeler, None)
            else:
                mine[undone.labeler] = before  # type: ignore[assignment]
            if mine:
                votes[item] = MappingProxyType(mine)
            else:
                votes.pop(item, None)
        _settle(labels, item, votes.get(item, {}), resolved.get(item))
    return _with_labels(state, labels, votes=MappingProxyType(votes), resolved=MappingProxyType(resolved),
                        submissions=tuple(s for s in state.submissions if s is not undone),
                        history=state.history + (event,))


def fold(events: Iterable[Event], state: SessionState | None = None) -> SessionState:
    return reduce(apply, events, state or SessionState())
