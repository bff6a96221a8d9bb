"""Events, the journal and the pure reducer."""

from __future__ import annotations

import os

import orjson
import pytest

from fastlabel.errors import InvalidInput
from fastlabel.events import (
    BatchServed,
    EventLog,
    LabelsSubmitted,
    QuerySet,
    SessionStarted,
    SessionState,
    SubmissionUndone,
    apply,
    event_from_dict,
    fold,
    parse_jsonl,
)


def sample_log() -> EventLog:
    log = EventLog()
    log.append(SessionStarted, seed=7, n_items=10, data="abc", encoder="pixels")
    log.append(QuerySet, query="smiling", embedding=(0.6, 0.8), logit_scale=50.0)
    b = log.append(BatchServed, strategy="borderline", batch_type="neutral", ids=(1, 2, 3), probs=(0.5, 0.4, 0.6))
    log.append(LabelsSubmitted, labels=((1, 1), (2, 0), (3, 1)), batch_id=b.seq, page_ms=1200, clicks=2)
    log.append(LabelsSubmitted, labels=((3, 0), (4, 1)))
    return log


def test_sequence_numbers_increase_and_events_are_immutable():
    log = sample_log()
    assert [e.seq for e in log] == [1, 2, 3, 4, 5]
    with pytest.raises(AttributeError):
        log.events[0].seed = 3  # type: ignore[misc]


def test_reducer_folds_labels_last_write_wins():
    state = fold(sample_log())
    assert dict(state.labels) == {1: 1, 2: 0, 3: 0, 4: 1}
    assert state.seed == 7 and state.n_items == 10
    assert state.query == "smiling" and state.query_embedding == (0.6, 0.8)
    assert state.n_positive == 2 and state.n_negative == 2
    assert len(state.batches) == 1 and state.batch(3).ids == (1, 2, 3)
    assert state.submissions[0].page_ms == 1200 and state.submissions[0].clicks == 2


def test_reducer_is_pure():
    state = fold(sample_log())
    before = dict(state.labels)
    after = apply(state, LabelsSubmitted(seq=99, ts=0.0, labels=((5, 1),)))
    assert dict(state.labels) == before
    assert after.labels[5] == 1
    with pytest.raises(TypeError):
        state.labels[5] = 1  # type: ignore[index]


def test_undo_restores_what_the_submission_overwrote():
    state = fold(sample_log())
    undone = apply(state, SubmissionUndone(seq=6, ts=0.0, submission=5))
    assert dict(undone.labels) == {1: 1, 2: 0, 3: 1}
    again = apply(undone, SubmissionUndone(seq=7, ts=0.0, submission=4))
    assert dict(again.labels) == {}
    assert again.submissions == ()


def test_undo_of_a_submission_not_on_top_is_a_no_op():
    state = fold(sample_log())
    assert dict(apply(state, SubmissionUndone(seq=6, ts=0.0, submission=4)).labels) == dict(state.labels)


def test_jsonl_round_trip_rebuilds_identical_state():
    log = sample_log()
    events, problems = parse_jsonl(log.to_jsonl())
    assert problems == []
    assert events == log.events
    assert fold(events) == fold(log)


def test_torn_last_line_is_reported_and_skipped():
    data = sample_log().to_jsonl() + b'{"type": "labels_submitted", "seq": 6, "lab'
    events, problems = parse_jsonl(data, "s.jsonl")
    assert len(events) == 5
    assert len(problems) == 1 and "s.jsonl:6" in problems[0] and "torn" in problems[0]


def test_corruption_in_the_middle_raises():
    lines = sample_log().to_jsonl().split(b"\n")
    lines[1] = b"not json"
    with pytest.raises(InvalidInput, match=":2:"):
        parse_jsonl(b"\n".join(lines))


def test_unknown_event_type_and_fields_are_rejected():
    with pytest.raises(InvalidInput, match="unknown event type"):
        event_from_dict({"type": "nope", "seq": 1, "ts": 0})
    with pytest.raises(InvalidInput, match="unknown fields"):
        event_from_dict({"type": "query_set", "seq": 1, "ts": 0, "query": "x", "evil": 1})


def test_decreasing_sequence_numbers_are_rejected():
    log = sample_log()
    lines = log.to_jsonl().splitlines()
    with pytest.raises(InvalidInput, match="must increase"):
        parse_jsonl(b"\n".join([lines[1], lines[0]]) + b"\n")


def test_journal_is_written_before_append_returns_and_resumes(tmp_path):
    path = tmp_path / "s.jsonl"
    log = EventLog.open(path)
    log.append(SessionStarted, seed=1, n_items=3)
    log.append(LabelsSubmitted, labels=((0, 1),))
    on_disk = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["type"] for e in on_disk] == ["session_started", "labels_submitted"]
    log.close()
    resumed = EventLog.open(path)
    assert resumed.events == log.events
    resumed.append(LabelsSubmitted, labels=((1, 0),))
    resumed.close()  # one writer at a time, within a process too
    assert [e.seq for e in EventLog.open(path)] == [1, 2, 3]


def test_journal_with_torn_tail_resumes_on_a_clean_line(tmp_path):
    path = tmp_path / "s.jsonl"
    log = EventLog.open(path)
    log.append(SessionStarted, seed=1, n_items=3)
    log.close()
    with open(path, "ab") as fh:
        fh.write(b'{"type": "labels_sub')
    resumed = EventLog.open(path)
    assert len(resumed) == 1 and resumed.problems
    resumed.append(LabelsSubmitted, labels=((2, 1),))
    resumed.close()
    assert fold(EventLog.open(path)).labels == {2: 1}
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_empty_state_defaults():
    assert SessionState().labels == {} and SessionState().query is None
