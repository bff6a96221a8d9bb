"""Journal faults in one process: bad lines, torn tails, links to a journal in use, no permission, no space."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import pytest

from fastlabel.errors import InvalidInput, StorageError, StorageFull
from fastlabel.events import EventLog, LabelsSubmitted, SessionStarted, parse_jsonl


def journal_of(path: Path, n_pages: int = 2) -> Path:
    log = EventLog.open(path)
    log.append(SessionStarted, seed=1, n_items=10)
    for k in range(n_pages):
        log.append(LabelsSubmitted, labels=((k, 1), (k + 1, 0)))
    log.close()
    return path


def file_facts(path: Path) -> tuple[bytes, int, int]:
    st = path.stat()
    return path.read_bytes(), st.st_mode, st.st_ino


@pytest.mark.parametrize("last", [
    b'{"type":"no_such_event","seq":4,"ts":1}',
    b'{"type":"model_trained","seq":4,"ts":1,"n_labels":0,"secret":1}',
    b'{"type":"labels_submitted","seq":4,"ts":1,"labels":[[3,7]]}',
    b'{"type":"labels_submitted","seq":4,"ts":1,"labels":[[12,1]]}',
    b"garbage",
])
def test_a_complete_bad_last_line_is_refused_with_its_number_not_repaired(tmp_path, last):
    journal = journal_of(tmp_path / "s.jsonl")
    journal.write_bytes(journal.read_bytes() + last + b"\n")
    journal.chmod(0o640)
    before = file_facts(journal)
    with pytest.raises(InvalidInput, match="s.jsonl:4:"):
        EventLog.open(journal)
    assert file_facts(journal) == before


def test_a_torn_last_line_is_cut_in_place_keeping_the_file_its_owner_and_mode(tmp_path):
    journal = journal_of(tmp_path / "s.jsonl")
    journal.chmod(0o640)
    good = journal.read_bytes()
    journal.write_bytes(good + b'{"type":"labels_submitted","seq":4,"ts":1,"labels":[[5,')
    _, mode, inode = file_facts(journal)
    log = EventLog.open(journal)
    assert len(log) == 3 and "torn" in log.problems[0]
    log.append(LabelsSubmitted, labels=((6, 1),))
    log.close()
    assert journal.stat().st_mode == mode and journal.stat().st_ino == inode
    assert journal.read_bytes().startswith(good)
    events, problems = parse_jsonl(journal.read_bytes())
    assert [e.seq for e in events] == [1, 2, 3, 4] and not problems


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_a_link_to_a_journal_in_use_is_refused(tmp_path, link):
    journal = journal_of(tmp_path / "s.jsonl")
    other = tmp_path / "other-name.jsonl"
    if link == "symlink":
        other.symlink_to(journal)
    else:
        os.link(journal, other)
    held = EventLog.open(journal)
    try:
        with pytest.raises(InvalidInput, match="in use by another FastLabel process"):
            EventLog.open(other)
    finally:
        held.close()
    EventLog.open(other).close()  # free again once the first writer is gone


def test_a_journal_this_user_cannot_write_is_refused_at_open():
    folder = Path(tempfile.mkdtemp(prefix="fastlabel-ro-"))  # in /tmp: every user may look inside
    folder.chmod(0o755)
    journal = journal_of(folder / "s.jsonl")
    journal.chmod(0o444)
    code = ("import os, sys; from pathlib import Path; from fastlabel.events import EventLog\n"
            "if os.geteuid() == 0: os.setuid(65534)  # root writes anything: open it as nobody\n"
            "try:\n    EventLog.open(Path(sys.argv[1]))\nexcept Exception as exc:\n"
            "    print(type(exc).__name__, exc); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code, str(journal)], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr[-1000:]
    assert done.stdout.startswith("StorageError cannot write the session journal") and "ermission" in done.stdout
    shutil.rmtree(folder)


def test_no_space_is_a_507_that_says_so_and_keeps_the_journal_clean(tmp_path, monkeypatch):
    journal = journal_of(tmp_path / "s.jsonl")
    log = EventLog.open(journal)
    size = journal.stat().st_size
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(StorageFull) as info:
        log.append(LabelsSubmitted, labels=((7, 1),))
    monkeypatch.undo()
    assert info.value.status == 507 and "is full" in str(info.value)
    assert journal.stat().st_size == size and len(log) == 3  # the half line is cut back
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(StorageError, match="could not write"):
        log.append(LabelsSubmitted, labels=((8, 1),))
    monkeypatch.undo()
    log.append(LabelsSubmitted, labels=((9, 0),))
    log.close()
    events, problems = parse_jsonl(journal.read_bytes())
    assert [e.seq for e in events] == [1, 2, 3, 4] and dict(events[-1].labels) == {9: 0} and not problems
    assert orjson.loads(journal.read_bytes().splitlines()[-1])["v"] == LabelsSubmitted.version
