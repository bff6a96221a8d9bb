"""Domain events: small immutable records with a type, a version, a sequence number and a timestamp.

Events are facts about a labeling session. They carry everything needed to rebuild
state (the query's text embedding included, so a replay needs no text encoder), and
nothing derived from the model. Every record checks its own values when it is built, so
an event read back from a journal passes exactly the checks it passed when it was written.

To change an event: add the field with a default, raise the class's `version`, and register
an upcaster from the old version in `upcast.py`; journals written before still load.
Every event type lives in this one module (hence its length), so the journal's vocabulary reads
in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..errors import InvalidInput
from ..users import OWNER, check_user_name

BATCH_TYPES = ("positive", "negative", "neutral")
QUERY_TYPES = ("text", "class")
MAX_REQUEST_ID_CHARS = 64
MAX_OVERLAP_PER_PAGE = 24  # overlap cards a page may hold (a page of 48: half of it)


def _int(value: Any, name: str, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer, got {value!r:.40}")
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, got {value}")


def _optional_int(value: Any, name: str, minimum: int = 0) -> None:
    if value is not None:
        _int(value, name, minimum)


def _number(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{name} must be a number, got {value!r:.40}")


def _str(value: Any, name: str) -> None:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {value!r:.40}")


def _ids(values: Any, name: str) -> None:
    if not isinstance(values, tuple):
        raise InvalidInput(f"{name} must be a list of item ids")
    for k, item in enumerate(values):
        _int(item, f"{name}[{k}]")


def _labels(labels: Any) -> None:
    if not isinstance(labels, tuple):
        raise InvalidInput("labels must be a list of [id, label] pairs")
    for k, pair in enumerate(labels):
        if not isinstance(pair, tuple) or len(pair) != 2:
            raise InvalidInput(f"labels[{k}] must be an [id, label] pair")
        _int(pair[0], f"labels[{k}] id")
        if isinstance(pair[1], bool) or pair[1] not in (0, 1) or not isinstance(pair[1], int):
            raise InvalidInput(f"labels[{k}]: label must be 0 or 1, got {pair[1]!r:.40}")


def _labeler(value: Any) -> None:
    try:
        check_user_name(value)
    except InvalidInput as exc:
        raise InvalidInput(f"labeler: {exc}") from None


def check_request_id(value: Any) -> None:
    """A client's id for one request: letters, digits, '-' and '_', at most 64 characters."""
    if value is None:
        return
    if not isinstance(value, str) or not 0 < len(value) <= MAX_REQUEST_ID_CHARS \
            or not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
        raise InvalidInput(f"request_id must be 1-{MAX_REQUEST_ID_CHARS} letters, digits, '-' or '_'")


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    ts: float
    type: ClassVar[str] = "event"
    version: ClassVar[int] = 1  # the record's format; records written before versions existed are 1

    def __post_init__(self) -> None:
        _int(self.seq, "seq", 1)
        _number(self.ts, "ts")
        self.check()

    def check(self) -> None:
        """Refuse values the reducer cannot use; raises InvalidInput."""

    def to_dict(self) -> dict[str, Any]:
        """The event's fields as they are (events are flat: numbers, strings, tuples), without
        `asdict`'s deep copy, which cost a page's submit ~10 ms."""
        return {"type": self.type, "v": self.version, **{f.name: getattr(self, f.name) for f in fields(self)}}


SOURCE_KINDS = ("sprite", "folder", "manifest", "hf_dataset", "demo", "precomputed", "audio")


def _optional_str(value: Any, name: str) -> None:
    if value is not None:
        _str(value, name)


def _optional_positive(value: Any, name: str) -> None:
    if value is not None:
        _number(value, name)
        if value <= 0:
            raise InvalidInput(f"{name} must be above 0, got {value}")


def _record(cls: Any, value: Any, name: str) -> Any:
    """A nested record of a session_started event, from itself, its JSON object, or None."""
    if value is None or isinstance(value, cls):
        return value
    if not isinstance(value, dict):
        raise InvalidInput(f"{name} must be an object, got {value!r:.40}")
    known = {f.name for f in fields(cls)}
    extra = set(value) - known
    if extra:
        raise InvalidInput(f"{name} has unknown fields: {', '.join(sorted(map(str, extra)))[:200]}")
    try:
        return cls(**value)
    except TypeError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


def _present(record: Any) -> dict[str, Any]:
    """A nested record as JSON: the fields it has (None left out)."""
    return {f.name: getattr(record, f.name) for f in fields(record) if getattr(record, f.name) is not None}


@dataclass(frozen=True, slots=True)
class DataSource:
    """Where a session's items come from, as the user gave it: enough to open the same data again.

    `location` is the path as given (a sprite file, an image folder, a manifest, a dataset; "" for
    the generated demo). A sprite has its `grid` ("COLSxROWS") and `tile` (px); a folder, manifest
    or dataset its item registry's `folder_id` (what the ids mean) and the columns it was read by;
    recordings cut into items have a `window` and a `hop` (seconds).
    """

    kind: str
    location: str = ""
    grid: str | None = None
    tile: int | None = None
    folder_id: str | None = None
    path_column: str | None = None
    id_column: str | None = None
    image_column: str | None = None
    split: str | None = None
    window: float | None = None
    hop: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise InvalidInput(f"source kind must be one of {', '.join(SOURCE_KINDS)}, got {self.kind!r:.40}")
        _str(self.location, "source location")
        _optional_str(self.grid, "source grid")
        _optional_int(self.tile, "source tile", 1)
        for name in ("folder_id", "path_column", "id_column", "image_column", "split"):
            _optional_str(getattr(self, name), f"source {name}")
        _optional_positive(self.window, "source window")
        _optional_positive(self.hop, "source hop")


@dataclass(frozen=True, slots=True)
class EncoderConfig:
    """What builds the encoder again: its `kind` (an encoder name: clip, imagenet, pixels,
    precomputed, ...) and the settings that kind takes; the event's `encoder` id pins the result.

    `pretrained` is an open_clip tag or a checkpoint path as given (the id holds its sha256);
    `embeddings` the precomputed file or shard folder as given.
    """

    kind: str
    model: str | None = None
    pretrained: str | None = None
    input_size: int | None = None
    embeddings: str | None = None

    def __post_init__(self) -> None:
        _str(self.kind, "encoder kind")
        if not self.kind:
            raise InvalidInput("encoder kind must not be empty")
        _optional_str(self.model, "encoder model")
        _optional_str(self.pretrained, "encoder pretrained")
        _optional_int(self.input_size, "encoder input_size", 1)
        _optional_str(self.embeddings, "encoder embeddings")


@dataclass(frozen=True, slots=True)
class SessionStarted(Event):
    """The session's identity: its seed, the data and the encoder the labels refer to, and the concept labeled.

    Version 2 added `concept`; older records are upcast to "positive". Version 3 added `source` and
    `encoder_config`, so a journal says where its data is and how to embed it; older records have
    None (and their commands need data and encoder flags).
    """

    seed: int = 0
    n_items: int = 0
    data: str = ""  # data fingerprint
    encoder: str = ""  # encoder id
    concept: str = "positive"  # what a positive label means, e.g. "Smiling"
    source: DataSource | None = None
    encoder_config: EncoderConfig | None = None
    type: ClassVar[str] = "session_started"
    version: ClassVar[int] = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", _record(DataSource, self.source, "source"))
        object.__setattr__(self, "encoder_config", _record(EncoderConfig, self.encoder_config, "encoder_config"))
        Event.__post_init__(self)

    def check(self) -> None:
        _int(self.seed, "seed", -(2**63))
        _int(self.n_items, "n_items")
        _str(self.data, "data")
        _str(self.encoder, "encoder")
        _str(self.concept, "concept")

    def to_dict(self) -> dict[str, Any]:
        body = Event.to_dict(self)
        for name in ("source", "encoder_config"):
            body[name] = _present(body[name]) if body[name] is not None else None
        return body


@dataclass(frozen=True, slots=True)
class QuerySet(Event):
    """A zero-shot query. `query_type` "text": `embedding` is the text's unit-norm embedding and `logit_scale`
    its temperature (similarities centred on the pool's mean). `query_type` "class": a class of the encoder's
    own classifier (a BirdNET species or sound), `embedding` its weight row and `bias` its bias, so the
    prior is the classifier's own score, sigmoid(x . embedding + bias), and replays without the model.

    Version 3 added `labeler`: who set it (older records: "owner")."""

    query: str = ""
    embedding: tuple[float, ...] = ()
    logit_scale: float = 100.0
    query_type: str = "text"
    bias: float = 0.0
    labeler: str = OWNER
    type: ClassVar[str] = "query_set"
    version: ClassVar[int] = 3

    def check(self) -> None:
        _str(self.query, "query")
        _labeler(self.labeler)
        if self.query_type not in QUERY_TYPES:
            raise InvalidInput(f"query_type must be one of {', '.join(QUERY_TYPES)}, got {self.query_type!r:.40}")
        _number(self.bias, "bias")
        if not isinstance(self.embedding, tuple):
            raise InvalidInput("embedding must be a list of numbers")
        for k, v in enumerate(self.embedding):
            _number(v, f"embedding[{k}]")
        _number(self.logit_scale, "logit_scale")


@dataclass(frozen=True, slots=True)
class BatchServed(Event):
    """A page shown to a labeler: which strategy chose which items, and the probabilities shown.

    Version 2 added `labeler` (who was served) and `overlap` (cards already labeled by someone else,
    served again for the agreement figures); older records were served to "owner", with no overlap.
    """

    strategy: str = ""
    batch_type: str = "neutral"
    ids: tuple[int, ...] = ()
    probs: tuple[float, ...] = ()
    audit: tuple[int, ...] = ()  # ids drawn uniformly at random for unbiased estimates
    audit_pool: int = 0  # how many items the audit ids were drawn from
    labeler: str = OWNER
    overlap: tuple[int, ...] = ()  # ids labeled by someone else before: the agreement sample
    type: ClassVar[str] = "batch_served"
    version: ClassVar[int] = 2

    def check(self) -> None:
        _str(self.strategy, "strategy")
        _labeler(self.labeler)
        _ids(self.overlap, "overlap")
        if self.batch_type not in BATCH_TYPES:
            raise InvalidInput(f"batch_type must be one of {', '.join(BATCH_TYPES)}, got {self.batch_type!r:.40}")
        _ids(self.ids, "ids")
        _ids(self.audit, "audit")
        if not isinstance(self.probs, tuple) or len(self.probs) not in (0, len(self.ids)):
            raise InvalidInput("probs must be a list of numbers, one per id (or none)")
        for k, p in enumerate(self.probs):
            _number(p, f"probs[{k}]")
        _int(self.audit_pool, "audit_pool")

    def item_ids(self) -> tuple[int, ...]:
        return self.ids + self.audit + self.overlap


@dataclass(frozen=True, slots=True)
class LabelsSubmitted(Event):
    """A confirmed page of labels, with how long it was on screen and how many clicks it took.

    Version 2 added `request_id`: the client's id for the submit, so that a repeat is answered, not re-applied.
    Version 3 added `labeler`: who gave the labels (older records: "owner").
    """

    labels: tuple[tuple[int, int], ...] = ()
    batch_id: int | None = None
    page_ms: int | None = None
    clicks: int | None = None
    request_id: str | None = None
    labeler: str = OWNER
    type: ClassVar[str] = "labels_submitted"
    version: ClassVar[int] = 3

    def check(self) -> None:
        _labels(self.labels)
        _labeler(self.labeler)
        _optional_int(self.batch_id, "batch_id", 1)
        _optional_int(self.page_ms, "page_ms")
        _optional_int(self.clicks, "clicks")
        check_request_id(self.request_id)

    def item_ids(self) -> tuple[int, ...]:
        return tuple(i for i, _ in self.labels)


CORRECTION_ORIGINS = ("review", "gallery")


@dataclass(frozen=True, slots=True)
class LabelsCorrected(Event):
    """Labels changed on items already labeled, from the review page (`batch_id`: the review page
    shown) or the labeled gallery; undone like a submission, counted apart in the effort figures.

    Version 2 added `labeler` (older records: "owner"): a correction changes that labeler's own labels.
    """

    labels: tuple[tuple[int, int], ...] = ()
    origin: str = "review"
    batch_id: int | None = None
    request_id: str | None = None
    labeler: str = OWNER
    type: ClassVar[str] = "labels_corrected"
    version: ClassVar[int] = 2

    def check(self) -> None:
        _labels(self.labels)
        _labeler(self.labeler)
        _optional_int(self.batch_id, "batch_id", 1)
        check_request_id(self.request_id)
        if self.origin not in CORRECTION_ORIGINS:
            raise InvalidInput(f"origin must be one of {', '.join(CORRECTION_ORIGINS)}, got {self.origin!r:.40}")

    def item_ids(self) -> tuple[int, ...]:
        return tuple(i for i, _ in self.labels)


@dataclass(frozen=True, slots=True)
class SubmissionUndone(Event):
    """Takes back the submission with sequence number `submission`.

    Version 2 added `request_id`, as for LabelsSubmitted: a repeated undo does not take back a second page.
    Version 3 added `labeler`: who undid it (older records: "owner").
    """

    submission: int = 0
    request_id: str | None = None
    labeler: str = OWNER
    type: ClassVar[str] = "submission_undone"
    version: ClassVar[int] = 3

    def check(self) -> None:
        _int(self.submission, "submission", 1)
        check_request_id(self.request_id)
        _labeler(self.labeler)


@dataclass(frozen=True, slots=True)
class LabelResolved(Event):
    """An admin's decision on items the labelers disagree about: it overrides their labels for training
    and export, and is undone like a submission (by the admin who made it)."""

    labels: tuple[tuple[int, int], ...] = ()
    labeler: str = OWNER  # the admin who resolved
    request_id: str | None = None
    type: ClassVar[str] = "label_resolved"

    def check(self) -> None:
        _labels(self.labels)
        _labeler(self.labeler)
        check_request_id(self.request_id)

    def item_ids(self) -> tuple[int, ...]:
        return tuple(i for i, _ in self.labels)


@dataclass(frozen=True, slots=True)
class GoalSet(Event):
    """What the user labels for from here on: "find" every positive, or "train" a classifier. The
    session checks the name against its known goals; the record only that it is a plain word."""

    goal: str = ""
    type: ClassVar[str] = "goal_set"

    def check(self) -> None:
        _str(self.goal, "goal")
        if not (0 < len(self.goal) <= 32 and self.goal.isascii() and self.goal.isalpha()):
            raise InvalidInput(f"goal must be a short word, got {self.goal!r:.40}")


@dataclass(frozen=True, slots=True)
class OverlapSet(Event):
    """How many cards of each page are overlap cards (already labeled by someone else: the agreement
    sample) on this concept from here on, as an admin set it."""

    per_page: int = 2
    labeler: str = OWNER  # the admin who set it
    type: ClassVar[str] = "overlap_set"

    def check(self) -> None:
        _int(self.per_page, "per_page")
        if self.per_page > MAX_OVERLAP_PER_PAGE:
            raise InvalidInput(f"per_page must be at most {MAX_OVERLAP_PER_PAGE}, got {self.per_page}")
        _labeler(self.labeler)


@dataclass(frozen=True, slots=True)
class ModelTrained(Event):
    """The head retrained here, on every label change before this event (`n_labels` is for reading only)."""

    n_labels: int = 0
    type: ClassVar[str] = "model_trained"

    def check(self) -> None:
        _int(self.n_labels, "n_labels")


@dataclass(frozen=True, slots=True)
class ItemsAdded(Event):
    """A folder grew: ids up to `n_items` - 1 exist from here on (a folder's ids are never reused)."""

    n_items: int = 0
    type: ClassVar[str] = "items_added"

    def check(self) -> None:
        _int(self.n_items, "n_items", 1)


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls for cls in (SessionStarted, QuerySet, BatchServed, LabelsSubmitted, LabelsCorrected, SubmissionUndone,
                              LabelResolved, ModelTrained, ItemsAdded, GoalSet, OverlapSet)
}

_TUPLE_FIELDS = {"embedding", "ids", "probs", "audit", "overlap"}


def event_from_dict(raw: Any) -> Event:
    """Rebuild an event from its JSON form, upcast to the current version; unknown types or fields, a
    version newer than this release knows, and values the record refuses are an InvalidInput."""
    from .upcast import upcast  # the upcasters name the record classes

    if not isinstance(raw, dict):
        raise InvalidInput(f"event must be an object, got {type(raw).__name__}")
    kind = raw.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidInput(f"unknown event type {kind!r:.60}; known: {', '.join(EVENT_TYPES)}")
    raw = upcast(raw, cls.version)
    names = {f.name for f in fields(cls)}
    extra = set(raw) - names - {"type", "v"}
    if extra:
        raise InvalidInput(f"{kind} event has unknown fields: {', '.join(sorted(map(str, extra)))[:200]}")
    values: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("type", "v")}
    for name in _TUPLE_FIELDS & set(values):
        if not isinstance(values[name], list):
            raise InvalidInput(f"{kind} event: {name} must be a list")
        values[name] = tuple(values[name])
    if "labels" in values:
        if not isinstance(values["labels"], (list, tuple)):
            raise InvalidInput(f"{kind} event: labels must be a list of [id, label] pairs")
        values["labels"] = tuple(tuple(p) if isinstance(p, (list, tuple)) else p for p in values["labels"])
    try:
        return cls(**values)
    except TypeError as exc:  # a missing required field (seq, ts)
        raise InvalidInput(f"bad {kind} event: {exc}") from exc
    except InvalidInput as exc:
        raise InvalidInput(f"bad {kind} event: {exc}") from None
