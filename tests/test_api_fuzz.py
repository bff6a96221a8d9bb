"""Property tests: whatever a client sends, the server answers without a 5xx, every refusal is JSON
with an "error", and a refused request changes nothing (labels and event count stay put)."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fastlabel.config import Config
from fastlabel.learner.registry import STRATEGIES
from fastlabel.server.app import create_app

N_ITEMS = 600  # the demo faces
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    derandomize=True)


@pytest.fixture(scope="session")
def fuzz_app(new_home):
    app = create_app(Config(home=new_home("fuzz-home"), encoder="pixels"), background=False)
    app.testing = True
    return app


@pytest.fixture(scope="session")
def client(fuzz_app):
    return fuzz_app.test_client()


def snapshot(client) -> tuple[dict, int]:
    state = client.get("/api/state").get_json()
    return state["counts"], client.get("/api/export/events").data.count(b"\n")


def labels_of(client) -> bytes:
    return client.get("/api/export/labels").data


def check(client, res, before: tuple[dict, int], labels_before: bytes) -> None:
    """The properties every answer must have."""
    assert res.status_code < 500, res.data[:300]
    if res.status_code >= 400:
        body = orjson.loads(res.data)
        assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
        assert "Traceback" not in body["error"]
        assert snapshot(client) == before
        assert labels_of(client) == labels_before


def dump(value) -> bytes:
    """JSON bytes; the standard library writes integers of any size, as a hostile client may."""
    return json.dumps(value).encode()


def scalar() -> st.SearchStrategy:
    return st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20))


json_values = st.recursive(scalar(), lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)), max_leaves=20)


@st.composite
def label_pages(draw) -> list:
    """A valid page of labels, or one with a single flaw, so that both acceptance and every check run."""
    ids = draw(st.lists(st.integers(0, N_ITEMS - 1), min_size=1, max_size=12, unique=True))
    page: list = [{"id": i, "label": draw(st.sampled_from([0, 1]))} for i in ids]
    k = draw(st.integers(0, len(page) - 1))
    flaw = draw(st.sampled_from([None] * 6 + ["repeat", "label", "id", "key", "missing", "entry"]))
    if flaw == "repeat":
        page.append({"id": page[k]["id"], "label": 1 - page[k]["label"]})
    elif flaw == "label":
        page[k]["label"] = draw(st.sampled_from([2, -1, True, False, 1.0, "1", None, [1]]))
    elif flaw == "id":
        page[k]["id"] = draw(st.sampled_from([-1, N_ITEMS, 2**64, 1.0, "1", None, True]))
    elif flaw == "key":
        page[k]["extra"] = draw(scalar())
    elif flaw == "missing":
        del page[k]["label"]
    elif flaw == "entry":
        page[k] = draw(json_values)
    return page


int_texts = st.one_of(st.integers(0, 5000).map(str), st.integers(-(2**70), 2**70).map(str), st.text(max_size=12),
                      st.sampled_from(["", "1e3", "0x10", " 7", "1_000", "NaN", "٣", str(2**63), str(10**30)]))


def query(names: list[str]) -> st.SearchStrategy[str]:
    known = st.dictionaries(st.sampled_from(names), int_texts, max_size=len(names))
    unknown = st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=10), max_size=2)
    return st.tuples(known, unknown).map(lambda kv: urlencode({**kv[1], **kv[0]}))


submit_args = st.fixed_dictionaries({}, optional={
    name: st.one_of(st.integers(0, 10**5), st.integers(2**53 - 2, 2**80), int_texts).map(str)
    for name in ("page_ms", "clicks")}).map(urlencode)


def post_labels(client, body: bytes, args: str) -> None:
    before, labels_before = snapshot(client), labels_of(client)
    res = client.post(f"/api/submit_labels?{args}", data=body, content_type="application/json")
    check(client, res, before, labels_before)


@settings(SETTINGS, max_examples=60)
@given(body=label_pages().map(dump), args=submit_args)
@example(body=b'[{"id": 5, "label": 1}]', args=f"page_ms={10**30}")  # beyond the journal's 64-bit ints
@example(body=b'[{"id": 6, "label": 0}]', args=f"clicks={2**63}")
def test_submit_pages_valid_or_with_one_flaw(client, body, args):
    post_labels(client, body, args)


@SETTINGS
@given(body=st.one_of(json_values.map(dump), st.binary(max_size=64)), args=query(["batch_id", "page_ms", "clicks"]))
def test_submit_anything(client, body, args):
    post_labels(client, body, args)


@SETTINGS
@given(args=st.one_of(query(["strategy", "batch_size"]),
                      st.tuples(st.sampled_from([*STRATEGIES, "", "nope", "../x"]), int_texts).map(
                          lambda sb: urlencode({"strategy": sb[0], "batch_size": sb[1]}))))
def test_next_batch(client, args):
    before, labels_before = snapshot(client), labels_of(client)
    res = client.get(f"/api/next_batch?{args}")
    check(client, res, before, labels_before)
    if res.status_code == 200:
        body = res.get_json()
        assert 0 < len(body["items"]) <= 200 or body["exhausted"]
        assert all(0 <= item["id"] < N_ITEMS for item in body["items"])


@SETTINGS
@given(body=st.one_of(json_values.map(dump), st.binary(max_size=64),
                      st.text(max_size=700).map(lambda q: dump({"query": q}))))
def test_set_query(client, body):
    before, labels_before = snapshot(client), labels_of(client)
    res = client.post("/api/set_query", data=body, content_type="application/json")
    check(client, res, before, labels_before)


@settings(SETTINGS, max_examples=15)
@given(body=st.one_of(st.none(), json_values.map(dump), st.binary(max_size=32)), args=query(["id"]))
def test_undo(client, body, args):
    before, labels_before = snapshot(client), labels_of(client)
    res = client.post(f"/api/undo?{args}", data=body)
    check(client, res, before, labels_before)


@SETTINGS
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
       path=st.one_of(
           st.sampled_from(["/api/state", "/api/export/labels", "/api/export/events", "/api/export/predictions",
                            "/api/next_batch", "/api/submit_labels", "/api/undo", "/api/set_query", "/ws"]),
           st.text(max_size=20).map(lambda p: "/api/" + quote(p)),
           st.text(max_size=20).map(lambda p: "/static/" + quote(p, safe="/.")),
       ),
       body=st.binary(max_size=32))
def test_any_route_any_method(client, method, path, body):
    before, labels_before = snapshot(client), labels_of(client)
    res = client.open(path, method=method, data=body)
    check(client, res, before, labels_before)
