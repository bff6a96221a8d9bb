"""The journal's crash edges: a last line without its newline, a failed append, bad field types,
and whole-file writes that are all or nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from fastlabel.cli import main as cli_main
from fastlabel.errors import InvalidInput, StorageFull
from fastlabel.events import EventLog, LabelsSubmitted, SessionStarted, parse_jsonl
from fastlabel.files import write_atomic


def started(journal: Path) -> EventLog:
    log = EventLog.open(journal)
    log.append(SessionStarted, seed=1, n_items=10)
    log.append(LabelsSubmitted, labels=((1, 1), (2, 0)))
    return log


def test_whole_last_line_without_newline_is_kept_and_the_next_append_starts_clean(tmp_path):
    journal = tmp_path / "s.jsonl"
    started(journal).close()
    journal.write_bytes(journal.read_bytes().rstrip(b"\n"))  # crashed between the line and its newline
    log = EventLog.open(journal)
    assert len(log) == 2 and not log.problems
    log.append(LabelsSubmitted, labels=((3, 1),))
    log.close()
    events, problems = parse_jsonl(journal.read_bytes())
    assert [e.seq for e in events] == [1, 2, 3] and not problems


def test_a_failed_append_leaves_no_partial_line(tmp_path, monkeypatch):
    journal = tmp_path / "s.jsonl"
    log = started(journal)
    size = journal.stat().st_size

    def disk_error(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_error)
    with pytest.raises(StorageFull, match="disk .* is full"):
        log.append(LabelsSubmitted, labels=((5, 1),))
    monkeypatch.undo()
    assert journal.stat().st_size == size and len(log) == 2  # neither on disk nor in memory
    log.append(LabelsSubmitted, labels=((6, 0),))
    log.close()
    events, problems = parse_jsonl(journal.read_bytes())
    assert [e.seq for e in events] == [1, 2, 3] and dict(events[-1].labels) == {6: 0} and not problems


@pytest.mark.parametrize("line", [b'{"type":"labels_submitted","seq":3,"ts":1,"labels":5}',
                                  b'{"type":"labels_submitted","seq":3,"ts":1,"labels":[["a",1]]}',
                                  b'{"type":"batch_served","seq":3,"ts":1,"ids":7}'])
def test_bad_field_types_in_the_middle_are_corruption_not_a_crash(tmp_path, line):
    good = started(tmp_path / "s.jsonl").to_jsonl()
    last = b'{"type":"labels_submitted","seq":9,"ts":1,"labels":[[1,0]]}\n'
    with pytest.raises(InvalidInput, match=":3:"):
        parse_jsonl(good + line + b"\n" + last)
    events, problems = parse_jsonl(good + line)  # the same line last: a torn write, skipped
    assert len(events) == 2 and len(problems) == 1


def test_write_atomic_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "labels.jsonl"
    target.write_bytes(b"old\n")

    def fail(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        write_atomic(target, b"new\n")
    assert target.read_bytes() == b"old\n" and os.listdir(tmp_path) == ["labels.jsonl"]


def test_cli_export_out_writes_the_labels_whole(tmp_path):
    journal = tmp_path / "s.jsonl"
    started(journal).close()
    out = tmp_path / "labels.jsonl"
    assert cli_main(["export", str(journal), "--out", str(out)]) == 0
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == [{"id": 1, "label": 1},
                                                                              {"id": 2, "label": 0}]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_a_second_process_cannot_open_a_journal_in_use(tmp_path):
    journal = tmp_path / "s.jsonl"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from fastlabel.events import EventLog; "
                               "log = EventLog.open(Path(sys.argv[1])); print('held', flush=True); time.sleep(60)",
         str(journal)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(InvalidInput, match="in use by another FastLabel process"):
            EventLog.open(journal)
    finally:
        holder.kill()
        holder.wait()
    EventLog.open(journal).close()  # the lock died with its process (as after kill -9)
