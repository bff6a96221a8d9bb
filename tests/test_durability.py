"""Kill -9 the real server at awkward moments; every acknowledged label must come back on restart.

The client keeps its own ledger of what the server acknowledged (a 200 to a submit or an undo).
After each SIGKILL and restart on the same home and journal, the exported labels must hold the
ledger exactly, a submit still in flight at the kill must be all there or not there at all, and
the model must retrain.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterator

import orjson
import pytest

from fastlabel.events import parse_jsonl
from live_server import ServerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(new_home) -> Iterator[ServerProcess]:
    """One server, journal and home for the whole module: a restart costs seconds (torch imports), so the
    tests share them and run in order, each on its own ids, each checking every label acknowledged so far."""
    home = new_home()
    srv = ServerProcess(home, home / "session.jsonl")
    srv.start()
    yield srv
    srv.kill9()


@pytest.fixture(scope="module")
def ledger() -> "Ledger":
    return Ledger()


@pytest.fixture(autouse=True)
def running(server) -> None:
    """Bring the server back if an earlier test left it dead."""
    if server.proc is None or server.proc.poll() is not None:
        server.start()


class Ledger:
    """What the client was told is saved: the labels in effect after every acknowledged change."""

    def __init__(self) -> None:
        self.labels: dict[int, int] = {}
        self._undo: list[dict[int, int | None]] = []

    def submitted(self, page: dict[int, int]) -> None:
        self._undo.append({i: self.labels.get(i) for i in page})
        self.labels.update(page)

    def undone(self) -> None:
        for i, before in self._undo.pop().items():
            if before is None:
                self.labels.pop(i)
            else:
                self.labels[i] = before


def page(ids: range, flip: int = 0) -> dict[int, int]:
    return {i: (i + flip) % 2 for i in ids}


def submit(srv: ServerProcess, labels: dict[int, int], ledger: Ledger) -> dict[str, Any]:
    status, body = srv.post("/api/submit_labels", [{"id": i, "label": y} for i, y in labels.items()])
    assert status == 200, body
    ledger.submitted(labels)
    return body


def exported(srv: ServerProcess) -> dict[int, int]:
    status, raw = srv.get("/api/export/labels")
    assert status == 200
    rows = [raw] if isinstance(raw, dict) else [orjson.loads(line) for line in raw.splitlines()]
    return {r["id"]: r["label"] for r in rows}


def restart_and_check(srv: ServerProcess, ledger: Ledger, *, maybe_saved: dict[int, int] | None = None) -> dict:
    """Restart on the same home and journal. Every acknowledged label must be there as acknowledged;
    the labels of an unacknowledged submit (`maybe_saved`) must be there whole or not at all."""
    state = srv.start()
    labels = exported(srv)
    assert state["counts"]["labeled"] == len(labels)
    assert state["last_train_ms"] is not None  # the replay retrained the head
    extra = {i: y for i, y in labels.items() if i not in ledger.labels}
    assert {i: labels.get(i) for i in ledger.labels} == ledger.labels, "an acknowledged label was lost"
    if maybe_saved:
        assert extra in ({}, maybe_saved), "a submission must be saved whole or not at all"
        if extra:
            ledger.submitted(maybe_saved)  # saved though never acknowledged: allowed, and now in effect
    else:
        assert extra == {}
    return state


def assert_retrains(srv: ServerProcess, ledger: Ledger, ids: range) -> None:
    body = submit(srv, page(ids), ledger)
    assert body["train_ms"] is not None and body["train_ms"] > 0
    status, state = srv.get("/api/state")
    assert status == 200 and state["counts"] == body["counts"]
    assert state["counts"]["labeled"] == len(exported(srv)) == len(ledger.labels)


def test_acknowledged_submits_survive_kill_9(server, ledger):
    for k in range(3):
        submit(server, page(range(k * 20, k * 20 + 20), flip=k), ledger)
    submit(server, page(range(10, 30), flip=1), ledger)  # overwrites parts of two earlier pages
    server.kill9()  # right after the last acknowledgement
    restart_and_check(server, ledger)
    assert_retrains(server, ledger, range(80, 100))


def test_kill_during_a_submit_keeps_it_all_or_nothing(server, ledger):
    """SIGKILL while a submit is in flight: maybe journaled, maybe training, maybe answered."""
    for k, delay_ms in enumerate((0, 12, 40)):  # here: lost before the journal, mid-training, answered
        in_flight = page(range(100 + 50 * k, 150 + 50 * k), flip=k)
        answer: dict[str, Any] = {}

        def fire() -> None:
            body = [{"id": i, "label": y} for i, y in in_flight.items()]
            try:
                answer["status"], answer["body"] = server.post("/api/submit_labels", body, timeout=10)
            except OSError as exc:  # the server died under us: not acknowledged
                answer["error"] = exc

        thread = threading.Thread(target=fire)
        thread.start()
        time.sleep(delay_ms / 1000)
        server.kill9()
        thread.join()
        if answer.get("status") == 200:
            ledger.submitted(in_flight)
            restart_and_check(server, ledger)
        else:
            restart_and_check(server, ledger, maybe_saved=in_flight)
    assert_retrains(server, ledger, range(250, 270))


def test_acknowledged_undo_survives_kill_9(server, ledger):
    submit(server, page(range(300, 320)), ledger)
    submit(server, page(range(310, 340), flip=1), ledger)
    status, body = server.post("/api/undo")
    assert status == 200
    ledger.undone()
    assert body["counts"]["labeled"] == len(ledger.labels)
    server.kill9()
    restart_and_check(server, ledger)
    status, _ = server.post("/api/undo")  # the page before is next in line to take back
    assert status == 200
    ledger.undone()
    assert exported(server) == ledger.labels and not set(range(300, 340)) & set(ledger.labels)
    assert_retrains(server, ledger, range(340, 360))


def test_torn_journal_tail_is_reported_and_skipped(server, ledger):
    submit(server, page(range(400, 420)), ledger)
    server.kill9()
    with open(server.journal, "ab") as fh:  # a line cut off mid-write
        fh.write(b'{"type":"labels_submitted","seq":99999,"ts":1.0,"labels":[[590,1],[591')
    state = restart_and_check(server, ledger)
    assert any("torn" in problem for problem in state["journal_problems"])
    assert "torn" in server.log()
    assert_retrains(server, ledger, range(420, 440))
    events, problems = parse_jsonl(server.journal.read_bytes())
    assert not problems and all(e.seq != 99999 for e in events)


def test_whole_last_line_without_its_newline_is_kept_and_appends_stay_clean(server, ledger):
    submit(server, page(range(460, 480)), ledger)
    server.kill9()
    data = server.journal.read_bytes()
    last_seq = orjson.loads(data.splitlines()[-1])["seq"]
    line = orjson.dumps({"type": "labels_submitted", "seq": last_seq + 1, "ts": 1.0, "labels": [[480, 1], [481, 0]],
                         "batch_id": None, "page_ms": None, "clicks": None})
    server.journal.write_bytes(data + line)  # the crash came after the line but before its newline
    restart_and_check(server, ledger, maybe_saved={480: 1, 481: 0})
    assert ledger.labels.get(480) == 1
    assert_retrains(server, ledger, range(490, 510))
    events, problems = parse_jsonl(server.journal.read_bytes())  # what the next restart will read
    seqs = [e.seq for e in events]
    assert not problems and last_seq + 1 in seqs  # the hand-written line is kept...
    after = seqs[seqs.index(last_seq + 1):]
    assert after == list(range(last_seq + 1, last_seq + 1 + len(after)))  # ...and later appends follow it
    assert events[-1].type == "model_trained"


@pytest.mark.parametrize("name", ["same path", "symlink", "hard link"])
def test_a_second_server_on_the_same_journal_exits_with_the_reason(server, ledger, name):
    """Whatever name the second server is given for the journal file, it refuses to start (exit status
    non-zero, the reason printed) and the first one keeps serving, its journal untouched."""
    journal = server.journal
    if name == "symlink":
        journal = server.journal.with_name("link-to-session.jsonl")
        journal.symlink_to(server.journal)
    elif name == "hard link":
        journal = server.journal.with_name("hardlink-to-session.jsonl")
        os.link(server.journal, journal)
    before = server.journal.read_bytes()
    second = ServerProcess(server.home, journal)
    try:
        with pytest.raises(RuntimeError, match="exited with 2|in use by another FastLabel process"):
            second.start()  # it may answer "error" for an instant before it exits
        assert second.proc.wait(30) == 2
        assert "in use by another FastLabel process" in second.log()
    finally:
        second.kill9()
        if journal != server.journal:
            journal.unlink()
    assert server.journal.read_bytes() == before
    assert exported(server) == ledger.labels  # the first one still serves, untouched
