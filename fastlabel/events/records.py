"""Domain events: small immutable records with a type, a sequence number and a timestamp.

Events are facts about a labeling session. They carry everything needed to rebuild
state (the query's text embedding included, so a replay needs no text encoder), and
nothing derived from the model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

from ..errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: float
    type: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    """The session's identity: its seed, the data and the encoder the labels refer to, and the concept labeled."""

    seed: int = 0
    n_items: int = 0
    data: str = ""  # data fingerprint
    encoder: str = ""  # encoder id
    concept: str = "positive"  # what a positive label means, e.g. "Smiling"
    type: ClassVar[str] = "session_started"


@dataclass(frozen=True, slots=True)
class QuerySet(Event):
    """A zero-shot text query; `embedding` is its unit-norm text embedding, `logit_scale` its temperature."""

    query: str = ""
    embedding: tuple[float, ...] = ()
    logit_scale: float = 100.0
    type: ClassVar[str] = "query_set"


@dataclass(frozen=True, slots=True)
class BatchServed(Event):
    """A page shown to the user: which strategy chose which items, and the probabilities shown."""

    strategy: str = ""
    batch_type: str = "neutral"
    ids: tuple[int, ...] = ()
    probs: tuple[float, ...] = ()
    audit: tuple[int, ...] = ()  # ids drawn uniformly at random for unbiased estimates
    audit_pool: int = 0  # how many items the audit ids were drawn from
    type: ClassVar[str] = "batch_served"


@dataclass(frozen=True, slots=True)
class LabelsSubmitted(Event):
    """A confirmed page of labels, with how long it was on screen and how many clicks it took."""

    labels: tuple[tuple[int, int], ...] = ()
    batch_id: int | None = None
    page_ms: int | None = None
    clicks: int | None = None
    type: ClassVar[str] = "labels_submitted"


@dataclass(frozen=True, slots=True)
class SubmissionUndone(Event):
    """Takes back the submission with sequence number `submission`."""

    submission: int = 0
    type: ClassVar[str] = "submission_undone"


@dataclass(frozen=True, slots=True)
class ModelTrained(Event):
    """The head retrained here, on every label change before this event (`n_labels` is for reading only)."""

    n_labels: int = 0
    type: ClassVar[str] = "model_trained"


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (SessionStarted, QuerySet, BatchServed, LabelsSubmitted, SubmissionUndone, ModelTrained)
}

_TUPLE_FIELDS = {"embedding", "ids", "probs", "audit"}


def event_from_dict(raw: dict[str, Any]) -> Event:
    """Rebuild an event from its JSON form; unknown types or fields are an InvalidInput."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"event must be an object, got {type(raw).__name__}")
    kind = raw.get("type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise InvalidInput(f"unknown event type {kind!r}; known: {', '.join(EVENT_TYPES)}")
    names = {f.name for f in fields(cls)}
    extra = set(raw) - names - {"type"}
    if extra:
        raise InvalidInput(f"{kind} event has unknown fields: {', '.join(sorted(extra))}")
    values: dict[str, Any] = {k: v for k, v in raw.items() if k != "type"}
    for name in _TUPLE_FIELDS & set(values):
        values[name] = tuple(values[name])
    if "labels" in values:
        values["labels"] = tuple((int(i), int(y)) for i, y in values["labels"])
    try:
        return cls(**values)
    except TypeError as exc:
        raise InvalidInput(f"bad {kind} event: {exc}") from exc
