"""Fault injection against the real server (gunicorn, as `fastlabel serve` runs it).

SIGKILL at every phase (a submit journaled but not answered, a retrain, a page served, a torn line,
an undo, the start-up replay), a full file system, a stalled socket, SIGTERM with a request in flight,
malformed requests and a flood of idle connections. The client keeps a ledger of what was
acknowledged and retries what was in flight with the same request id, as the page does: after each
fault every acknowledged label must be there, none twice, and every request id journaled once.
The tally is printed at the end (run with -s) and written to $FASTLABEL_FAULTS_REPORT if set.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

import orjson
import pytest

from live_server import REPO_ROOT, ServerProcess, call, wait_until_ready

pytestmark = pytest.mark.slow
TALLY: Counter[str] = Counter()


class FaultyServer(ServerProcess):
    """The server under tests/faulty_server.py, which can SIGKILL itself at a named point."""

    def start(self, kill_at: str = "", slow_fit_s: float = 0.0) -> dict:
        self.starts += 1
        cmd = [sys.executable, str(REPO_ROOT / "tests" / "faulty_server.py"), "serve", "--port", str(self.port),
               "--encoder", "pixels", "--home", str(self.home), "--session", str(self.journal)]
        env = {**os.environ, "FASTLABEL_TEST_KILL_AT": kill_at, "FASTLABEL_TEST_SLOW_FIT": str(slow_fit_s)}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                         start_new_session=True)
        return wait_until_ready(self.base, proc=self.proc)

    def died_of_sigkill(self, timeout: float = 30) -> bool:
        assert self.proc is not None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return self.proc.returncode == -signal.SIGKILL


class Ledger:
    """What the server acknowledged, and the request ids that must each be journaled exactly once."""

    def __init__(self) -> None:
        self.labels: dict[int, int] = {}
        self.undo_stack: list[dict[int, int | None]] = []
        self.request_ids: set[str] = set()

    def submitted(self, page: dict[int, int], rid: str) -> None:
        self.undo_stack.append({i: self.labels.get(i) for i in page})
        self.labels.update(page)
        self.request_ids.add(rid)
        TALLY["labels acknowledged"] += len(page)

    def undone(self, rid: str) -> None:
        for i, before in self.undo_stack.pop().items():
            if before is None:
                self.labels.pop(i)
            else:
                self.labels[i] = before
        self.request_ids.add(rid)


def new_rid() -> str:
    return uuid.uuid4().hex


def submit(srv: ServerProcess, page: dict[int, int], rid: str, timeout: float = 30) -> tuple[int, Any]:
    body = [{"id": i, "label": y} for i, y in page.items()]
    return call("POST", f"{srv.base}/api/submit_labels?request_id={rid}", body, timeout=timeout)


def undo(srv: ServerProcess, rid: str) -> tuple[int, Any]:
    return call("POST", f"{srv.base}/api/undo?request_id={rid}")


def journal_check(srv: ServerProcess, ledger: Ledger) -> None:
    """The exported labels are the ledger's; every acknowledged request id is journaled exactly once."""
    status, raw = srv.get("/api/export/labels")
    assert status == 200
    rows = [raw] if isinstance(raw, dict) else [orjson.loads(line) for line in raw.splitlines()]
    labels = {r["id"]: r["label"] for r in rows}
    lost = sum(1 for i, y in ledger.labels.items() if labels.get(i) != y)
    _, raw_events = srv.get("/api/export/events")
    events = [orjson.loads(line) for line in raw_events.splitlines()]
    rids = Counter(e.get("request_id") for e in events if e.get("request_id"))
    duplicates = sum(n - 1 for n in rids.values())
    TALLY["labels lost"] += lost
    TALLY["duplicated requests"] += duplicates
    assert lost == 0, "an acknowledged label was lost"
    assert labels == ledger.labels, "labels nobody acknowledged are in effect"
    assert duplicates == 0, f"a request was applied twice: {[r for r, n in rids.items() if n > 1]}"
    assert ledger.request_ids <= set(rids), "an acknowledged request is missing from the journal"


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    summary = dict(TALLY)
    print("\nfault suite:", orjson.dumps(summary).decode())
    if os.environ.get("FASTLABEL_FAULTS_REPORT"):
        Path(os.environ["FASTLABEL_FAULTS_REPORT"]).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))


# -- kill -9 at every phase ----------------------------------------------------------------------

PHASES = [  # (phase, kill point): each is reached by the second action of its kind after a start
    ("submit journaled, not answered", "after_append:labels_submitted:2"),
    ("retrain after a submit", "fit:request:2"),
    ("page served", "after_append:batch_served:2"),
    ("torn write of a submit", "mid_line:labels_submitted:2"),
    ("undo journaled, not answered", "after_append:submission_undone:1"),
    ("retrain after an undo", "after_append:model_trained:4"),
]


def label_until_killed(srv: FaultyServer, ledger: Ledger, first_id: int) -> tuple[str, Any] | None:
    """Serve, submit (and every third round undo) until the server dies; returns the action in flight."""
    next_id = first_id
    for round_ in range(12):
        try:
            status, _ = srv.get("/api/next_batch?batch_size=12")
        except OSError:
            return None  # died serving a page: nothing to retry
        assert status == 200
        page = {i % 600: (i + round_) % 2 for i in range(next_id, next_id + 10)}  # the demo has 600 faces
        next_id += 10
        rid = new_rid()
        try:
            status, body = submit(srv, page, rid)
        except OSError:
            return ("submit", (page, rid))
        assert status == 200, body
        ledger.submitted(page, rid)
        if round_ % 3 == 1:
            rid = new_rid()
            try:
                status, body = undo(srv, rid)
            except OSError:
                return ("undo", rid)
            assert status == 200, body
            ledger.undone(rid)
    raise AssertionError("the fault never fired")


def retry(srv: FaultyServer, ledger: Ledger, in_flight: tuple[str, Any] | None) -> None:
    """Send the request that was in flight again, with its request id: applied once, whatever happened."""
    if in_flight is None:
        return
    kind, what = in_flight
    if kind == "submit":
        page, rid = what
        status, body = submit(srv, page, rid)
        assert status == 200, body
        ledger.submitted(page, rid)
    else:
        status, body = undo(srv, what)
        assert status == 200, body
        ledger.undone(what)


def test_kill_9_at_every_phase_loses_and_duplicates_nothing(home):
    srv = FaultyServer(home, home / "kills.jsonl")
    ledger = Ledger()
    first_id = 0
    try:
        for phase, point in PHASES:
            srv.start(kill_at=point)
            in_flight = label_until_killed(srv, ledger, first_id)
            first_id += 100
            assert srv.died_of_sigkill(), f"{phase}: the server did not die at {point}"
            TALLY["kills"] += 1
            srv.start()
            retry(srv, ledger, in_flight)
            journal_check(srv, ledger)
            srv.kill9()
        # the start-up itself: killed while replaying the journal, then started again
        with pytest.raises(RuntimeError, match="exited"):
            srv.start(kill_at="fit:load:1")
        assert srv.proc.returncode == -signal.SIGKILL
        TALLY["kills"] += 1
        state = srv.start()
        assert state["last_train_ms"] is not None
        journal_check(srv, ledger)
    finally:
        srv.kill9()


# -- a full file system --------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 1 MiB tmpfs (needs root and the right to mount); skipped, with the reason, where it cannot be had."""
    if os.geteuid() != 0:
        pytest.skip("a full file system needs a small tmpfs, and mounting one needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Take every free byte of the file system holding `folder`."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_full_disk_is_a_507_that_saves_nothing_and_loses_nothing(home, small_disk):
    srv = FaultyServer(home, small_disk / "s.jsonl")
    ledger = Ledger()
    try:
        srv.start()
        for k in range(3):
            page, rid = {i: i % 2 for i in range(20 * k, 20 + 20 * k)}, new_rid()
            assert submit(srv, page, rid)[0] == 200
            ledger.submitted(page, rid)
        filler = fill(small_disk)
        counts = srv.get("/api/state")[1]["counts"]
        full_answers = 0
        for k in range(12):  # the journal's last 4 KiB page may still hold a few lines
            page, rid = {i: (i + k) % 2 for i in range(100, 200)}, new_rid()
            status, body = submit(srv, page, rid)
            TALLY["faults"] += 1
            if status == 200:  # it fitted; perhaps only its retrain did not (a warning says so)
                ledger.submitted(page, rid)
                TALLY["saved, retrain refused by a full disk"] += "warning" in body
                continue
            assert status == 507 and "is full" in body["error"], body
            full_answers += 1
        assert full_answers >= 3
        undo_rid = new_rid()
        status, body = undo(srv, undo_rid)
        assert status in (200, 507)
        if status == 200:  # the undo line fitted where the submits' did not
            ledger.undone(undo_rid)
        else:
            assert "is full" in body["error"]
        assert srv.get("/api/state")[0] == 200
        filler.unlink()  # space again: the same server carries on
        page, rid = {i: 0 for i in range(550, 570)}, new_rid()
        assert submit(srv, page, rid)[0] == 200
        ledger.submitted(page, rid)
        journal_check(srv, ledger)
        srv.kill9()
        srv.start()
        journal_check(srv, ledger)
        assert srv.get("/api/state")[1]["counts"]["labeled"] >= counts["labeled"]
    finally:
        srv.kill9()


# -- a socket that never reads -------------------------------------------------------------------


def stalled_socket(host: str, port: int, ids: list[int]) -> socket.socket:
    """A WebSocket with a tiny receive buffer that watches `ids` and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((host, port))
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    payload = orjson.dumps({"type": "watch", "ids": ids})
    mask = os.urandom(4)
    masked = bytes(b ^ mask[k % 4] for k, b in enumerate(payload))
    assert len(payload) < 65536
    sock.sendall(bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + masked)
    return sock


def test_a_socket_that_never_reads_does_not_hold_up_any_submit(home):
    srv = FaultyServer(home, home / "stall.jsonl")
    ledger = Ledger()
    try:
        srv.start()
        baseline = []
        for k in range(20):  # no stalled socket yet: how long submits take here anyway
            page, rid = {i: k % 2 for i in range(2 * k, 2 + 2 * k)}, new_rid()
            started = time.perf_counter()
            assert submit(srv, page, rid)[0] == 200
            baseline.append(time.perf_counter() - started)
            ledger.submitted(page, rid)
        stalled = [stalled_socket("127.0.0.1", srv.port, list(range(200))) for _ in range(2)]
        delays = []
        for k in range(150):  # each push is ~3 KB: the sockets' buffers fill after about 100
            page, rid = {i: (i + k) % 2 for i in range(200 + 2 * k, 202 + 2 * k)}, new_rid()
            started = time.perf_counter()
            status, body = submit(srv, page, rid, timeout=10)
            delays.append(time.perf_counter() - started)
            assert status == 200, body
            ledger.submitted(page, rid)
        TALLY["faults"] += len(stalled)
        TALLY["longest submit with stalled sockets (ms)"] = round(max(delays) * 1000)
        TALLY["median submit before the stalled sockets (ms)"] = round(sorted(baseline[10:])[5] * 1000)
        assert "dropping a websocket that stopped reading" in srv.log()
        assert max(delays) < 5, f"a submit waited {max(delays):.1f} s behind a stalled socket"
        journal_check(srv, ledger)
        for sock in stalled:
            sock.close()
    finally:
        srv.kill9()


# -- SIGTERM, start-up failures, malformed requests, idle connections -----------------------------


def test_sigterm_finishes_the_request_in_flight_and_closes_the_journal(home):
    srv = FaultyServer(home, home / "term.jsonl")
    ledger = Ledger()
    try:
        srv.start(slow_fit_s=1.5)
        answer: dict[str, Any] = {}
        page, rid = {i: i % 2 for i in range(300, 340)}, new_rid()
        thread = threading.Thread(target=lambda: answer.update(zip(("status", "body"), submit(srv, page, rid))))
        thread.start()
        time.sleep(0.5)  # the submit is training now
        os.kill(srv.proc.pid, signal.SIGTERM)
        thread.join(30)
        assert answer.get("status") == 200, answer
        ledger.submitted(page, rid)
        assert srv.proc.wait(30) == 0
        TALLY["faults"] += 1
        assert "journal closed" in srv.log()
        assert srv.journal.read_bytes().endswith(b"\n")
        srv.start()
        journal_check(srv, ledger)
    finally:
        srv.kill9()


@pytest.mark.parametrize("line, reason", [
    (b'{"type":"labels_submitted","seq":9,"ts":1,"labels":[[99999,1]]}', "outside the data"),
    (b'{"type":"labels_submitted","seq":9,"ts":1,"labels":[[3,7]]}', "label must be 0 or 1"),
    (b'{"type":"no_such_event","seq":9,"ts":1}', "unknown event type"),
    (b'{"type":"model_trained","seq":9,"ts":1,"n_labels":0,"extra":1}', "unknown fields"),
    (b"garbage", "line"),
])
def test_a_bad_journal_line_stops_the_start_with_its_number_and_changes_nothing(home, tmp_path, line, reason):
    journal = tmp_path / "bad.jsonl"
    seed = FaultyServer(home, journal)
    try:
        seed.start()
    finally:
        seed.kill9()
    journal.write_bytes(journal.read_bytes() + line + b"\n")
    journal.chmod(0o640)
    before, mode = journal.read_bytes(), journal.stat().st_mode
    lines = before.count(b"\n")
    proc = subprocess.run([sys.executable, "-m", "fastlabel", "serve", "--encoder", "pixels", "--home", str(home),
                           "--session", str(journal), "--port", str(seed.port)],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    TALLY["malformed journals"] += 1
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"bad.jsonl:{lines}:" in proc.stderr and re.search(reason, proc.stderr), proc.stderr[-2000:]
    assert journal.read_bytes() == before and journal.stat().st_mode == mode  # not "repaired", not rewritten


MALFORMED_REQUESTS = [
    b"GET /api/state?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",  # 414
    b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",  # 431
    b"GET /api/state HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(b"X-%d: 1\r\n" % k for k in range(120)) + b"\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + os.urandom(64),  # a TLS hello on plain HTTP
    b"GARBAGE\r\n\r\n",
    b"GET /api/state HTTP/9.9\r\n\r\n",
    b"POST /api/submit_labels HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /api/submit_labels HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
]


def raw_exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except OSError:
            pass
        return out


def test_malformed_requests_and_idle_connections_get_json_and_change_nothing(home):
    srv = FaultyServer(home, home / "malformed.jsonl")
    try:
        srv.start()
        before = srv.get("/api/export/events")[1]
        for data in MALFORMED_REQUESTS:
            out = raw_exchange(srv.port, data)
            TALLY["malformed requests"] += 1
            head, _, body = out.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else None
            assert status is None or status < 500 or status == 501, out[:300]
            if status is not None:
                assert b"application/json" in head and "error" in orjson.loads(body), out[:300]
        for code, data in ((414, MALFORMED_REQUESTS[0]), (431, MALFORMED_REQUESTS[1])):
            assert raw_exchange(srv.port, data).startswith(b"HTTP/1.1 %d" % code)
        worker = int(Path(f"/proc/{srv.proc.pid}/task/{srv.proc.pid}/children").read_text().split()[0])
        idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(300)]
        TALLY["malformed requests"] += len(idle)
        time.sleep(1)
        threads = int(re.search(r"Threads:\s+(\d+)", Path(f"/proc/{worker}/status").read_text()).group(1))
        assert threads < 150, f"{threads} threads for 300 idle connections"
        for sock in idle:
            sock.close()
        assert srv.get("/api/state")[0] == 200
        assert srv.get("/api/export/events")[1] == before
    finally:
        srv.kill9()


def test_the_development_server_also_exits_when_its_start_fails_and_answers_json(home, tmp_path):
    """`--server dev`, the fallback: a failed start exits 2 with the reason; its own errors are JSON."""
    journal = tmp_path / "bad.jsonl"
    journal.write_bytes(b"garbage\n")
    port = FaultyServer(home, journal).port
    proc = subprocess.run([sys.executable, "-m", "fastlabel", "serve", "--server", "dev", "--encoder", "pixels",
                           "--home", str(home), "--session", str(journal), "--port", str(port)],
                          capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert proc.returncode == 2 and "bad.jsonl:1:" in proc.stderr, proc.stderr[-2000:]
    assert journal.read_bytes() == b"garbage\n"
    from fastlabel.server.serving import JsonErrorRequestHandler

    assert JsonErrorRequestHandler.error_content_type == "application/json"
    assert orjson.loads(JsonErrorRequestHandler.error_message_format % {"code": 414, "message": "URI Too Long",
                                                                         "explain": ""})["error"] == "414 URI Too Long"
