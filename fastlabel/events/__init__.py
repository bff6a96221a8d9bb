"""Event sourcing: immutable records, an append-only log, and a pure reducer."""

from .log import EventLog, events_to_jsonl, load_events, parse_jsonl
from .records import (
    EVENT_TYPES,
    BatchServed,
    DataSource,
    EncoderConfig,
    GoalSet,
    ItemsAdded,
    Event,
    LabelResolved,
    LabelsCorrected,
    LabelsSubmitted,
    ModelTrained,
    OverlapSet,
    QuerySet,
    SessionStarted,
    SubmissionUndone,
    event_from_dict,
)
from .reducer import Retrain, SessionState, Submission, apply, fold

__all__ = [
    "EVENT_TYPES", "BatchServed", "DataSource", "EncoderConfig", "GoalSet", "ItemsAdded", "Event", "EventLog",
    "LabelResolved", "LabelsCorrected", "LabelsSubmitted", "ModelTrained", "OverlapSet",
    "QuerySet", "SessionStarted",
    "Retrain", "SessionState", "Submission", "SubmissionUndone", "apply", "event_from_dict", "events_to_jsonl", "fold",
    "load_events", "parse_jsonl",
]
