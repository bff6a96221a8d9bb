"""Versioned events: old records are upcast on read, newer ones refused, values checked on read as on write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from fastlabel.config import Config
from fastlabel.errors import InvalidInput
from fastlabel.events import LabelsSubmitted, SessionStarted, event_from_dict, fold, load_events, parse_jsonl
from fastlabel.events.upcast import UPCASTERS
from fastlabel.replay import replay_session

REPO = Path(__file__).absolute().parent.parent
RECORDED = REPO / "replays" / "demo-smiling.jsonl"  # written before events carried a version
REPLAYED = REPO / "tests" / "fixtures" / "demo-smiling.replayed.json"  # what that release rebuilt from it


def test_a_record_without_a_version_is_upcast_to_the_current_one():
    old = {"type": "labels_submitted", "seq": 3, "ts": 1.0, "labels": [[4, 1]], "batch_id": None,
           "page_ms": None, "clicks": None}
    event = event_from_dict(old)
    assert isinstance(event, LabelsSubmitted) and event.request_id is None
    assert orjson.loads(orjson.dumps(event.to_dict())) == {**old, "v": LabelsSubmitted.version, "request_id": None,
                                                           "labeler": "owner"}
    assert event_from_dict(event.to_dict()) == event  # the current form reads back as itself


def test_a_record_from_a_newer_release_is_refused_with_a_reason():
    record = {"type": "model_trained", "v": 99, "seq": 1, "ts": 1.0, "n_labels": 0}
    with pytest.raises(InvalidInput, match="newer FastLabel"):
        event_from_dict(record)


def test_a_session_started_without_a_concept_is_upcast_to_positive():
    old = {"type": "session_started", "seq": 1, "ts": 0.0, "seed": 0, "n_items": 5, "data": "d", "encoder": "e"}
    event = event_from_dict(old)
    assert event.concept == "positive" and event.to_dict()["v"] == SessionStarted.version == 3
    assert event.source is None and event.encoder_config is None  # sources were not recorded then
    assert event_from_dict({**old, "concept": "Smiling"}).concept == "Smiling"  # unversioned, but naming one


def test_a_new_field_with_its_upcaster_reads_old_records(monkeypatch):
    """How an event changes: raise its version and register the step; records of the old version load."""
    monkeypatch.setattr(SessionStarted, "version", 3)
    monkeypatch.setitem(UPCASTERS, ("session_started", 2), lambda raw: {**raw, "encoder": raw["encoder"] or "pixels"})
    event = event_from_dict({"type": "session_started", "v": 2, "seq": 1, "ts": 0.0, "seed": 0, "n_items": 5,
                             "data": "d", "encoder": ""})
    assert event.encoder == "pixels" and event.concept == "positive" and event.to_dict()["v"] == 3
    event = event_from_dict({"type": "session_started", "seq": 1, "ts": 0.0, "encoder": ""})  # 1 -> 2 -> 3
    assert event.encoder == "pixels" and event.concept == "positive"
    monkeypatch.delitem(UPCASTERS, ("session_started", 2))
    with pytest.raises(InvalidInput, match="no upcaster"):
        event_from_dict({"type": "session_started", "seq": 1, "ts": 0.0})


@pytest.mark.parametrize("labels, message", [([[99999, 1]], "outside the data"), ([[3, 7]], "label must be 0 or 1"),
                                             ([[-1, 1]], "at least 0"), ([[5.9, 1]], "must be an integer"),
                                             ([[True, 1]], "must be an integer"), ([[3, 1.0]], "label must be 0 or 1")])
def test_values_are_checked_on_read_as_on_write(labels, message):
    head = b'{"type":"session_started","seq":1,"ts":0,"seed":0,"n_items":600,"data":"","encoder":""}\n'
    bad = orjson.dumps({"type": "labels_submitted", "seq": 2, "ts": 0, "labels": labels}) + b"\n"
    with pytest.raises(InvalidInput, match=f":2: .*{message}"):
        parse_jsonl(head + bad, "s.jsonl")
    with pytest.raises(InvalidInput, match=message):  # the same checks refuse it on write
        from fastlabel.events import EventLog

        log = EventLog()
        log.append(SessionStarted, n_items=600)
        log.append(LabelsSubmitted, labels=tuple(tuple(p) for p in labels))


@pytest.fixture(scope="module")
def recorded_replay(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    events = load_events(RECORDED)
    return events, replay_session(events, Config(home=home, encoder="pixels")), home


def test_the_journal_of_the_previous_release_loads_and_replays_as_it_did(recorded_replay):
    events, session, _ = recorded_replay
    assert all("v" not in orjson.loads(line) for line in RECORDED.read_bytes().splitlines())
    expected = orjson.loads(REPLAYED.read_bytes())
    st = session.state
    assert len(events) == expected["events"]
    assert sorted([i, y] for i, y in st.labels.items()) == expected["labels"]
    assert [s.seq for s in st.submissions] == expected["submissions"]
    assert sorted(st.audit_ids) == expected["audit_ids"]
    assert [[p.seq, p.labeled, p.positive] for p in session.history()] == expected["trend"]


def test_old_and_current_forms_of_a_journal_replay_identically(recorded_replay, tmp_path):
    events, session, home = recorded_replay
    rewritten = session.export_events_jsonl()  # every record now carries its version
    assert all(orjson.loads(line)["v"] >= 1 for line in rewritten.splitlines())
    again, problems = parse_jsonl(rewritten)
    assert not problems and again == events and fold(again) == fold(events)
    replayed = replay_session(again, Config(home=home, encoder="pixels"))
    np.testing.assert_array_equal(replayed.probs, session.probs)
