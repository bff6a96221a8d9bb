"""A server with users: every request needs a personal token, roles decide what it may do, wrong
tokens are slowed down, and no token or cookie value reaches a log."""

from __future__ import annotations

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from fastlabel.config import Config
from fastlabel.server.app import create_app
from fastlabel.server.auth import COOKIE, Throttle
from fastlabel.users import UserStore


@pytest.fixture(scope="module")
def team_home(new_home):
    home = new_home("team-security")
    store = UserStore(home)
    return home, store.add("boss", admin=True), store.add("ann"), store.add("cy")


@pytest.fixture(scope="module")
def app(team_home):
    home = team_home[0]
    app = create_app(Config(home=home, encoder="pixels"), background=False)
    app.testing = True
    return app


def header(token: str) -> dict:
    return {"X-FastLabel-Token": token}


def test_no_token_is_401_and_the_page_asks_to_sign_in(app):
    client = app.test_client()
    res = client.get("/api/state")
    assert res.status_code == 401 and "token" in res.get_json()["error"]
    assert client.get("/api/next_batch").status_code == 401
    page = client.get("/")
    assert page.status_code == 302 and page.headers["Location"].endswith("/signin")
    assert client.get("/signin").status_code == 200 and b"personal token" in client.get("/signin").data


def test_a_labeler_labels_but_may_not_export_or_manage(app, team_home):
    _, boss, ann, _ = team_home
    client = app.test_client()
    assert client.get("/api/state", headers=header(ann)).status_code == 200
    assert client.get("/api/me", headers=header(ann)).get_json() == {"name": "ann", "role": "labeler", "team": True}
    for method, path in [("GET", "/api/export/labels"), ("GET", "/api/export/events"),
                         ("GET", "/api/export/predictions"), ("GET", "/api/export/model"),
                         ("GET", "/api/export/table"), ("GET", "/api/users"), ("POST", "/api/users"),
                         ("POST", "/api/users/ann/rotate"), ("DELETE", "/api/users/boss"), ("POST", "/api/concepts"),
                         ("POST", "/api/resolve"), ("POST", "/api/team/overlap")]:
        res = client.open(path, method=method, headers=header(ann), json={"name": "x"})
        assert res.status_code == 403, path
        assert "admin" in res.get_json()["error"]
    assert client.get("/api/export/labels", headers=header(boss)).status_code == 200
    assert [u["name"] for u in client.get("/api/users", headers=header(boss)).get_json()["users"]] == ["ann", "boss", "cy"]


def test_the_sign_in_sets_an_httponly_strict_cookie(app, team_home):
    ann = team_home[2]
    client = app.test_client()
    res = client.post("/api/signin", json={"token": ann})
    assert res.status_code == 200 and res.get_json() == {"name": "ann", "role": "labeler"}
    cookie = res.headers["Set-Cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/api/state").status_code == 200  # the cookie alone signs the page's calls in
    assert client.get("/").status_code == 200
    client.post("/api/signout")
    assert client.get("/api/state").status_code == 401


def test_fifty_bad_tokens_in_a_row_are_slowed_down(app, team_home):
    ann = team_home[2]
    client = app.test_client()
    attacker = {"REMOTE_ADDR": "10.0.0.9"}
    statuses = []
    started = time.monotonic()
    for k in range(50):
        res = client.get("/api/state", headers=header(f"fl_deadbeef_guess{k}"), environ_base=attacker)
        statuses.append(res.status_code)
    assert time.monotonic() - started < 10  # answered at once, not by sleeping
    assert statuses[:5] == [401] * 5 and statuses.count(429) >= 40
    # while it waits, even a right token from that client is refused; other clients are not affected
    assert client.get("/api/state", headers=header(ann), environ_base=attacker).status_code == 429
    assert client.get("/api/state", headers=header(ann)).status_code == 200
    res = client.post("/api/signin", json={"token": "fl_deadbeef_x"}, environ_base=attacker)
    assert res.status_code == 429 and "try again" in res.get_json()["error"]


def test_the_throttle_grows_is_bounded_and_forgets_on_success():
    now = [0.0]
    throttle = Throttle(free=2, base_s=1, max_wait_s=8, max_clients=3, clock=lambda: now[0])
    waits = []
    for _ in range(8):
        throttle.failed("a")
        waits.append(throttle.wait_s("a"))
    assert waits == [0, 0, 1, 2, 4, 8, 8, 8]
    throttle.succeeded("a")
    assert throttle.wait_s("a") == 0
    for name in "bcde":
        throttle.failed(name)
    assert len(throttle._clients) == 3


@pytest.fixture(scope="module")
def live_app(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def test_tokens_in_a_query_string_or_a_cookie_never_reach_the_access_log(live_app, team_home, caplog):
    _, boss, ann, _ = team_home
    caplog.set_level(logging.DEBUG)
    with urllib.request.urlopen(f"http://{live_app}/api/state?token={ann}", timeout=10) as res:
        assert res.status == 200
    request = urllib.request.Request(f"http://{live_app}/api/me", headers={"Cookie": f"{COOKIE}={boss}"})
    with urllib.request.urlopen(request, timeout=10) as res:
        assert res.status == 200
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"http://{live_app}/api/state?token={ann}x", timeout=10)
    time.sleep(0.2)
    assert "/api/state?token=[redacted]" in caplog.text
    assert ann not in caplog.text and boss not in caplog.text and ann[8:20] not in caplog.text


def test_two_labelers_over_http_get_disjoint_pages_and_their_own_undo(app, team_home):
    _, boss, ann, cy = team_home
    client = app.test_client()
    concept = "?concept=http-team"
    assert client.post("/api/concepts", json={"name": "http-team"}, headers=header(boss)).status_code == 201
    pages = {}
    for name, token in (("ann", ann), ("cy", cy)):
        res = client.get(f"/api/next_batch{concept}&strategy=random&batch_size=24", headers=header(token))
        pages[name] = res.get_json()
    ids = {name: {item["id"] for item in page["items"]} for name, page in pages.items()}
    assert len(ids["ann"]) == 24 and not ids["ann"] & ids["cy"]
    for name, token in (("ann", ann), ("cy", cy)):
        body = [{"id": i, "label": i % 2} for i in sorted(ids[name])]
        res = client.post(f"/api/submit_labels{concept}&batch_id={pages[name]['batch_id']}", json=body,
                          headers=header(token))
        assert res.status_code == 200
    undone = client.post(f"/api/undo{concept}", headers=header(ann)).get_json()  # ann's page, not cy's (the latest)
    assert {item["id"] for item in undone["page"]["items"]} == ids["ann"] and undone["counts"]["labeled"] == 24
    team = client.get(f"/api/team{concept}", headers=header(ann)).get_json()
    assert {r["name"] for r in team["labelers"]} == {"ann", "cy"}
    agreement = client.get(f"/api/agreement{concept}", headers=header(boss)).get_json()
    assert [r["name"] for r in agreement["labelers"]] == ["cy"] and agreement["disagreements"] == []
    rows = client.get(f"/api/export/labels{concept}", headers=header(boss)).data.splitlines()
    assert len(rows) == 24 and all(b'"labeler":"cy"' in row for row in rows)


def test_an_admin_sets_the_overlap_of_a_concept_and_labelers_see_it(app, team_home):
    _, boss, ann, _ = team_home
    client = app.test_client()
    assert client.get("/api/team", headers=header(ann)).get_json()["overlap_per_page"] == 2  # the default
    res = client.post("/api/team/overlap", headers=header(boss), json={"per_page": 5})
    assert res.status_code == 200 and res.get_json() == {"overlap_per_page": 5}
    assert client.get("/api/team", headers=header(ann)).get_json()["overlap_per_page"] == 5
    for bad in ({"per_page": -1}, {"per_page": 25}, {"per_page": "4"}, {"per_page": True}, {"n": 3}, [4]):
        res = client.post("/api/team/overlap", headers=header(boss), json=bad)
        assert res.status_code == 400 and "per_page" in res.get_json()["error"], bad
    assert client.post("/api/team/overlap", headers=header(boss), json={"per_page": 2}).status_code == 200
