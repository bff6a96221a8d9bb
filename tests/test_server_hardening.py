"""The server's guard rails: access rules, the file system boundary, errors, and concurrent tabs."""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import orjson
import pytest
import simple_websocket
from werkzeug.serving import make_server

from fastlabel.config import Config
from fastlabel.events import SessionState, apply, event_from_dict
from fastlabel.server.app import create_app
from fastlabel.session import LabelingSession

from live_server import free_port, wait_until_ready

TOKEN = "a-test-token"


@pytest.fixture(scope="module")
def home(new_home) -> Path:
    return new_home()


@pytest.fixture(scope="module")
def app(home):
    app = create_app(Config(home=home, encoder="pixels"), background=False)
    app.testing = True
    return app


@pytest.fixture(scope="module")
def token_app(home):
    """A second app on the same cached embeddings but its own journal, guarded by a token."""
    config = Config(home=home, encoder="pixels", session=home / "token-session.jsonl", token=TOKEN)
    app = create_app(config, background=False)
    app.testing = True
    return app


def live(app) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yields host:port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def live_app(app) -> Iterator[str]:
    yield from live(app)


@pytest.fixture(scope="module")
def live_token_app(token_app) -> Iterator[str]:
    yield from live(token_app)


def snapshot(client, **kwargs) -> tuple[dict, int]:
    counts = client.get("/api/state", **kwargs).get_json()["counts"]
    events = client.get("/api/export/events", **kwargs).data.count(b"\n")
    return counts, events


def submit(client, labels, **kwargs):
    return client.post("/api/submit_labels", data=orjson.dumps(labels), content_type="application/json", **kwargs)


def events_of(client) -> list[dict]:
    return [orjson.loads(line) for line in client.get("/api/export/events").data.splitlines()]


# -- request limits and errors ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/submit_labels", "/api/set_query", "/api/undo"])
def test_oversized_bodies_are_413_json_without_state_change(app, path):
    client = app.test_client()
    before = snapshot(client)
    res = client.post(path, data=b"[" + b" " * (3 * 1024 * 1024) + b"]", content_type="application/json")
    assert res.status_code == 413 and "error" in res.get_json()
    assert snapshot(client) == before


def test_oversized_chunked_body_is_413_not_cut_short(live_app):
    """Without a Content-Length the body is streamed; it must be refused, not silently truncated."""
    host, port = live_app.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    chunks = iter([b'[{"id": 1, "label": 1}]', *([b" " * 65536] * 40), b"trailing garbage"])
    conn.request("POST", "/api/submit_labels", body=chunks, encode_chunked=True)
    res = conn.getresponse()
    assert res.status == 413 and "error" in orjson.loads(res.read())
    conn.close()


def test_oversized_socket_message_closes_only_that_socket(live_app):
    ws = simple_websocket.Client.connect(f"ws://{live_app}/ws")
    ws.send("x" * 200_000)
    with pytest.raises(simple_websocket.ConnectionClosed):
        ws.receive(timeout=5)
    assert urllib.request.urlopen(f"http://{live_app}/api/state", timeout=5).status == 200


def test_unexpected_errors_answer_500_json_without_a_trace(app, monkeypatch):
    session = app.extensions["fastlabel"].workspace.session

    def explode(*args, **kwargs):
        raise RuntimeError("secret internals at /home/someone/code.py line 12")

    monkeypatch.setattr(session, "next_batch", explode)
    res = app.test_client().get("/api/next_batch")
    assert res.status_code == 500
    body = res.get_json()
    assert set(body) == {"error"} and "secret" not in body["error"] and "Traceback" not in res.text


@pytest.mark.parametrize("args", ["page_ms=99999999999999999999999", "clicks=1e3", "batch_id=" + "9" * 5000])
def test_out_of_range_metadata_is_400(app, args):
    client = app.test_client()
    before = snapshot(client)
    res = client.post(f"/api/submit_labels?{args}", data=b'[{"id": 1, "label": 1}]')
    assert res.status_code == 400 and "error" in res.get_json()
    assert snapshot(client) == before


@pytest.mark.parametrize("body", [b'{"query": "x", "extra": 1}', b'{"query": "' + b"a" * 600 + b'"}'])
def test_set_query_schema_and_length(app, body):
    client = app.test_client()
    before = snapshot(client)
    res = client.post("/api/set_query", data=body)
    assert res.status_code in (400, 409) and "error" in res.get_json()
    assert snapshot(client) == before


def test_float_labels_are_not_labels(app):
    res = submit(app.test_client(), [{"id": 1, "label": 1.0}])
    assert res.status_code == 400 and "label must be 0 or 1" in res.get_json()["error"]


# -- the file system boundary ----------------------------------------------------------------

TRAVERSALS = [
    "/static/../pyproject.toml",
    "/static/..%2fpyproject.toml",
    "/static/%2e%2e/pyproject.toml",
    "/static/%2e%2e%2fpyproject.toml",
    "/static/js/../../pyproject.toml",
    "/static/..%5cpyproject.toml",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/....//pyproject.toml",
    "/../pyproject.toml",
    "/pyproject.toml",
    "/fastlabel/server/app.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_files_never_leave_static(app, path):
    res = app.test_client().get(path, follow_redirects=True)  # "//" is first redirected to "/"
    assert res.status_code in (400, 404), res.status_code
    assert b"[project]" not in res.data and b"root:" not in res.data and b"import" not in res.data


def test_static_files_are_served(app):
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/static/index.html").status_code == 200


def test_every_call_from_the_page_goes_through_api_js():
    """Only api.js sends requests (it adds the token and the tab's concept); a module with a fetch of its
    own would act on whatever concept the server has current."""
    js = Path(__file__).absolute().parent.parent / "static" / "js"
    senders = {p.name for p in js.glob("*.js") if any(call in p.read_text() for call in ("fetch(", "XMLHttpRequest",
                                                                                        "sendBeacon("))}
    assert senders == {"api.js"}, senders


# -- who may call -----------------------------------------------------------------------------


def test_binding_off_loopback_without_a_token_is_refused(home):
    with pytest.raises(ValueError, match="token"):
        create_app(Config(home=home, encoder="pixels", host="0.0.0.0"), background=False)


def test_token_guards_api_but_not_the_page(token_app):
    client = token_app.test_client()
    assert client.get("/").status_code == 200
    res = client.get("/api/state")
    assert res.status_code == 401 and "token" in res.get_json()["error"]
    assert client.get("/api/state", headers={"X-FastLabel-Token": "wrong"}).status_code == 401
    assert client.get("/api/state", headers={"X-FastLabel-Token": TOKEN}).status_code == 200
    assert client.get(f"/api/state?token={TOKEN}").status_code == 200
    assert client.get("/api/nope").status_code == 401  # unknown routes say nothing without the token


def test_foreign_host_header_is_refused_on_loopback(app):
    res = app.test_client().get("/api/state", headers={"Host": "attacker.example:8008"})
    assert res.status_code == 403 and "loopback" in res.get_json()["error"]


@pytest.mark.parametrize("headers", [{"Origin": "http://attacker.example"}, {"Origin": "null"},
                                     {"Sec-Fetch-Site": "cross-site"}])
def test_cross_site_calls_are_refused_without_state_change(app, headers):
    client = app.test_client()
    before = snapshot(client)
    assert submit(client, [{"id": 3, "label": 1}], headers=headers).status_code == 403
    assert client.post("/api/undo", headers=headers).status_code == 403
    assert client.get("/api/next_batch", headers=headers).status_code == 403
    assert snapshot(client) == before


def test_same_origin_calls_pass(app):
    res = app.test_client().get("/api/state", headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert res.status_code == 200


def test_websocket_with_a_foreign_origin_is_refused_before_the_handshake(live_app):
    with pytest.raises(simple_websocket.ConnectionError) as info:
        simple_websocket.Client.connect(f"ws://{live_app}/ws", headers={"Origin": "http://attacker.example"})
    assert info.value.status_code == 403


def test_websocket_with_our_origin_hears_retrains(live_app, app):
    host = live_app.split(":")[0]  # this client sends "Host: 127.0.0.1" without the port; a browser sends both
    ws = simple_websocket.Client.connect(f"ws://{live_app}/ws", headers={"Origin": f"http://{host}"})
    try:
        ws.send(orjson.dumps({"type": "watch", "ids": [1, 2, 3]}).decode())
        time.sleep(0.2)  # the server handles the watch message on its own thread
        client = app.test_client()
        assert submit(client, [{"id": 10, "label": 1}, {"id": 11, "label": 0}]).status_code == 200
        message = orjson.loads(ws.receive(timeout=10))
        assert message["type"] == "trained" and set(message["probs"]) == {"1", "2", "3"}
    finally:
        ws.close()


def test_websocket_needs_the_token(live_token_app):
    with pytest.raises(simple_websocket.ConnectionError) as info:
        simple_websocket.Client.connect(f"ws://{live_token_app}/ws")
    assert info.value.status_code == 401
    ws = simple_websocket.Client.connect(f"ws://{live_token_app}/ws?token={TOKEN}")
    ws.close()


@pytest.mark.slow
def test_serve_off_loopback_prints_a_token_and_requires_it(home, tmp_path):
    """127.0.0.2 is loopback to the kernel but not to FastLabel's rule, so it takes the off-loopback path."""
    port = free_port()
    cmd = [sys.executable, "-m", "fastlabel", "serve", "--host", "127.0.0.2", "--port", str(port),
           "--encoder", "pixels", "--home", str(home), "--session", str(tmp_path / "s.jsonl")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        second = proc.stdout.readline()
        assert "?token=" in first and second.startswith("access token: ")
        token = second.split(": ", 1)[1].strip()
        base = f"http://127.0.0.2:{port}"
        assert wait_until_ready(base, token=token)["status"] == "ready"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base}/api/state", timeout=5)
        assert info.value.code == 401
    finally:
        proc.kill()
        proc.wait()


# -- concurrent tabs --------------------------------------------------------------------------


def test_two_tabs_on_overlapping_pages_last_write_wins_and_both_events_stay(app):
    ids = list(range(200, 240))
    acks: list[tuple[int, dict[int, int]]] = []
    errors: list[str] = []
    start = threading.Barrier(3)
    done = threading.Event()

    def tab(first_label: int) -> None:
        client = app.test_client()
        start.wait()
        for round_ in range(6):
            labels = {i: (first_label + round_ + i) % 2 for i in ids}
            res = submit(client, [{"id": i, "label": y} for i, y in labels.items()])
            if res.status_code != 200:
                errors.append(res.text)
                continue
            acks.append((res.get_json()["submission"], labels))

    def reader() -> None:  # pages, state and exports read while the tabs write
        client = app.test_client()
        start.wait()
        while not done.is_set():
            for path in ("/api/next_batch?batch_size=12", "/api/state", "/api/export/labels", "/api/export/events"):
                res = client.get(path)
                if res.status_code != 200:
                    errors.append(f"{path}: {res.status_code} {res.text}")

    threads = [threading.Thread(target=tab, args=(k,)) for k in (0, 1)]
    watcher = threading.Thread(target=reader)
    for t in [*threads, watcher]:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert not errors
    assert len(acks) == 12 and len({seq for seq, _ in acks}) == 12

    client = app.test_client()
    recorded = {e["seq"]: e for e in events_of(client) if e["type"] == "labels_submitted"}
    for seq, labels in acks:  # every acknowledged submission is kept, as sent
        assert dict(map(tuple, recorded[seq]["labels"])) == labels
    last = max(acks)[1]
    exported = {r["id"]: r["label"] for r in map(orjson.loads, client.get("/api/export/labels").data.splitlines())}
    assert {i: exported[i] for i in ids} == last


def test_retrains_under_concurrent_submits_match_a_replay(app):
    """Serialised submits: each retrain saw exactly the labels up to its event, and the final model is
    the one a replay of the journal builds."""
    points: list[dict] = []
    errors: list[str] = []

    def tab(offset: int) -> None:
        client = app.test_client()
        for k in range(4):
            base = 300 + offset * 40 + k * 10
            res = submit(client, [{"id": i, "label": int(i % 3 == 0)} for i in range(base, base + 10)])
            if res.status_code == 200:
                points.append(res.get_json()["history_point"])
            else:
                errors.append(res.text)

    threads = [threading.Thread(target=tab, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(points) == 12

    client = app.test_client()
    events = [event_from_dict(e) for e in events_of(client)]
    labeled_at: dict[int, int] = {}
    state = SessionState()
    for event in events:
        state = apply(state, event)
        if event.type == "labels_submitted":
            labeled_at[event.seq] = len(state.labels)
    for point in points:
        if point["seq"] in labeled_at:
            assert point["labeled"] == labeled_at[point["seq"]]

    session = app.extensions["fastlabel"].workspace.session
    session.settle()  # a submit made while another tab's retrain ran was answered at once: its retrain follows
    events = [event_from_dict(e) for e in events_of(client)]
    replayed = LabelingSession.replay(events, session.embeddings)
    assert dict(replayed.state.labels) == dict(session.state.labels)
    np.testing.assert_allclose(replayed.probs, session.probs, atol=1e-5)


# -- round two: same-site pages, HEAD, tokens in logs, socket limits, stalled sockets ------------


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "none"},
                                     {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:9999"}])
def test_only_our_own_page_changes_state(app, headers):
    """An <img> on another local port is same-site to a browser, not same-origin: it appends nothing."""
    client = app.test_client()
    before = snapshot(client)
    assert client.get("/api/next_batch?strategy=audit&batch_size=200", headers=headers).status_code == 403
    assert submit(client, [{"id": 3, "label": 1}], headers=headers).status_code == 403
    assert client.post("/api/undo", headers=headers).status_code == 403
    assert snapshot(client) == before
    own = client.get("/api/next_batch?batch_size=4", headers={"Sec-Fetch-Site": "same-origin"})
    assert own.status_code == 200 and len(own.get_json()["items"]) == 4


def test_head_next_batch_records_nothing(app):
    client = app.test_client()
    before = snapshot(client)
    for _ in range(3):
        assert client.head("/api/next_batch?strategy=audit&batch_size=200").status_code == 200
    assert snapshot(client) == before


def test_the_token_never_reaches_the_access_log(live_token_app, caplog):
    caplog.set_level("INFO", logger="werkzeug")
    assert urllib.request.urlopen(f"http://{live_token_app}/api/state?token={TOKEN}", timeout=10).status == 200
    ws = simple_websocket.Client.connect(f"ws://{live_token_app}/ws?token={TOKEN}")
    ws.close()
    time.sleep(0.2)
    assert "/api/state?token=[redacted]" in caplog.text and TOKEN not in caplog.text


def test_sockets_over_the_cap_are_refused_before_the_handshake(live_app, app, monkeypatch):
    hub = app.extensions["fastlabel"].hub
    monkeypatch.setattr(hub, "max_sockets", len(hub))
    with pytest.raises(simple_websocket.ConnectionError) as info:
        simple_websocket.Client.connect(f"ws://{live_app}/ws")
    assert info.value.status_code == 503


def test_a_socket_that_never_reads_is_dropped_without_blocking_anyone():
    """The hub only queues: a send stuck on a peer that stopped reading holds nobody up; its queue keeps
    only the newest messages, and the socket is shut (which frees its sender) once its send is older than
    the timeout."""
    from fastlabel.server.push import Hub

    released, shut, heard = threading.Event(), threading.Event(), []

    def stuck_send(text: str) -> None:
        released.wait(30)  # a full TCP buffer: blocks until the socket is shut
        raise OSError("socket shut")

    def shut_it() -> None:
        shut.set()
        released.set()

    hub = Hub(queue_size=4, send_timeout=0.2)
    stalled = hub.add(stuck_send, shut_it)
    reader = hub.add(heard.append)
    started = time.perf_counter()
    for k in range(50):
        hub.broadcast({"type": "trained", "k": k})
    assert time.perf_counter() - started < 0.5  # never waited on the stuck socket
    assert stalled._queue.qsize() <= 4 and not stalled.closed
    time.sleep(0.3)
    hub.broadcast({"type": "trained", "k": 50})
    assert shut.wait(5) and stalled.closed and stalled not in hub._clients and hub.dropped == 1
    deadline = time.monotonic() + 5
    while (not heard or orjson.loads(heard[-1])["k"] != 50) and time.monotonic() < deadline:
        time.sleep(0.01)
    ks = [orjson.loads(m)["k"] for m in heard]
    assert ks[-1] == 50 and ks == sorted(ks)  # the other socket heard the news, in order
    assert reader in hub._clients and not reader.closed


# -- round two: what reached the journal is acknowledged; repeats are answered, not applied ------


def post(client, path, body=None, **query):
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    data = None if body is None else orjson.dumps(body)
    return client.post(f"{path}?{qs}" if qs else path, data=data, content_type="application/json")


def labels_events(client) -> list[dict]:
    return [e for e in events_of(client) if e["type"] == "labels_submitted"]


def test_a_repeated_submit_is_answered_not_applied_again(app):
    client = app.test_client()
    page = [{"id": 500, "label": 1}, {"id": 501, "label": 0}]
    first = post(client, "/api/submit_labels", page, request_id="page-500")
    assert first.status_code == 200
    n_events = len(events_of(client))
    again = post(client, "/api/submit_labels", page, request_id="page-500")
    assert again.status_code == 200 and again.get_json()["submission"] == first.get_json()["submission"]
    assert again.get_json()["repeated"] is True and len(events_of(client)) == n_events
    other = post(client, "/api/submit_labels", [{"id": 502, "label": 1}], request_id="page-500")
    assert other.status_code == 409 and "request_id" in other.get_json()["error"]
    assert post(client, "/api/submit_labels", page, request_id="bad id!").status_code == 400
    assert len(events_of(client)) == n_events


def test_identical_unanswered_page_requests_share_one_batch_served(app):
    client = app.test_client()
    post(client, "/api/submit_labels", [{"id": 510, "label": 1}])
    first = client.get("/api/next_batch?strategy=audit&batch_size=200").get_json()
    n_events = len(events_of(client))
    for _ in range(3):
        again = client.get("/api/next_batch?strategy=audit&batch_size=200").get_json()
        assert again["batch_id"] == first["batch_id"] and [i["id"] for i in again["items"]] == \
            [i["id"] for i in first["items"]]
    assert len(events_of(client)) == n_events  # one page held out of training, not four
    other = client.get("/api/next_batch?strategy=audit&batch_size=20").get_json()
    assert other["batch_id"] != first["batch_id"]


def test_a_change_that_reached_the_journal_is_acknowledged_when_the_retrain_cannot_be(app, monkeypatch):
    """The disk fills between the submit's line and the retrain's: the submit is saved, so it is a 200
    (with a warning), a repeat does not submit twice, and an undo likewise undoes one page."""
    from fastlabel.errors import StorageFull

    client = app.test_client()
    log = app.extensions["fastlabel"].workspace.session.log
    write = log._write

    def full_for_retrains(line: bytes) -> None:
        if b'"model_trained"' in line:
            raise StorageFull("the disk holding the session journal is full; nothing of this request was saved")
        write(line)

    before = client.get("/api/state").get_json()["counts"]["labeled"]
    monkeypatch.setattr(log, "_write", full_for_retrains)
    page = [{"id": i, "label": i % 2} for i in range(520, 530)]
    res = post(client, "/api/submit_labels", page, request_id="full-1")
    assert res.status_code == 200 and "full" in res.get_json()["warning"]
    assert res.get_json()["counts"]["labeled"] == before + 10
    assert post(client, "/api/submit_labels", page, request_id="full-1").status_code == 200
    assert sum(1 for e in labels_events(client) if e.get("request_id") == "full-1") == 1
    res = post(client, "/api/undo", request_id="undo-1")
    assert res.status_code == 200 and "full" in res.get_json()["warning"]
    assert res.get_json()["counts"]["labeled"] == before
    again = post(client, "/api/undo", request_id="undo-1")
    assert again.status_code == 200 and again.get_json()["counts"]["labeled"] == before  # not a second page
    monkeypatch.undo()
    res = post(client, "/api/submit_labels", [{"id": 531, "label": 1}, {"id": 532, "label": 0}])
    assert res.status_code == 200 and res.get_json()["train_ms"] is not None and "warning" not in res.get_json()
