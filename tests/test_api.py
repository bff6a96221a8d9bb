"""Every route through Flask's test client: exact shapes, each strategy, and bad input."""

from __future__ import annotations

import base64
import io

import orjson
import pytest
from PIL import Image

from fastlabel.config import Config
from fastlabel.learner.registry import AUDIT as AUDIT_PAGE, STRATEGIES, menu
from fastlabel.server.app import create_app


@pytest.fixture(scope="module")
def app(new_home):
    home = new_home()
    app = create_app(Config(home=home, encoder="pixels"), background=False)
    app.testing = True
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


def snapshot(client) -> tuple[dict, int]:
    state = client.get("/api/state").get_json()
    events = client.get("/api/export/events").data.count(b"\n")
    return state["counts"], events


def submit(client, labels, **args):
    query = "&".join(f"{k}={v}" for k, v in args.items())
    return client.post(f"/api/submit_labels?{query}", data=orjson.dumps(labels), content_type="application/json")


def test_state_shape(client):
    state = client.get("/api/state").get_json()
    assert state["status"] == "ready"
    assert state["data"]["n_items"] == 600
    assert state["strategies"] == menu()  # the page's menu is the catalog's
    assert {s["name"] for s in state["strategies"]} == set(STRATEGIES) | {AUDIT_PAGE}
    assert set(state["counts"]) == {"labeled", "positive", "negative"}
    assert state["encoder"]["has_text"] is False
    assert {"effort", "estimates", "stop"} <= set(state)


@pytest.mark.parametrize("strategy", [*sorted(STRATEGIES), AUDIT_PAGE])
def test_next_batch_shape_for_each_strategy(client, strategy):
    exemplar = "&ids=5" if strategy == "similar" else ""  # "more like this" needs an example
    res = client.get(f"/api/next_batch?strategy={strategy}&batch_size=24{exemplar}")
    assert res.status_code == 200
    body = res.get_json()
    assert body["batch_type"] in ("positive", "negative", "neutral")
    assert body["batch_type"] == (STRATEGIES[strategy].batch_type if strategy in STRATEGIES else "neutral")
    assert len(body["items"]) == 24
    audit = set(body["audit"])
    cold = all(item["prob_pos"] == 0.5 for item in body["items"])  # no model yet: its guess is negative
    assert len(audit) == (24 if strategy == AUDIT_PAGE else 2) and audit <= {item["id"] for item in body["items"]}
    for item in body["items"]:
        assert set(item) == {"id", "image", "prob_pos", "prelabel"}  # the spec'd fields, plus the start label
        assert 0 <= item["prob_pos"] <= 1
        if body.get("prelabel") is not None and item["id"] not in audit:
            assert item["prelabel"] == body["prelabel"]
        else:  # the model's guess: an audit card, or any card of a page without a prelabel
            assert item["prelabel"] == (0 if cold else int(item["prob_pos"] >= 0.5))
        assert Image.open(io.BytesIO(base64.b64decode(item["image"]))).size == (48, 48)
    probs = [i["prob_pos"] for i in body["items"]]
    assert probs == sorted(probs, reverse=body["batch_type"] != "negative")


def test_submit_trains_and_answers_with_model_state(client):
    batch = client.get("/api/next_batch?strategy=random&batch_size=30").get_json()
    labels = [{"id": it["id"], "label": k % 2} for k, it in enumerate(batch["items"])]
    before, _ = snapshot(client)
    res = submit(client, labels, batch_id=batch["batch_id"], page_ms=4000, clicks=5)
    assert res.status_code == 200
    body = res.get_json()
    assert body["counts"]["labeled"] == before["labeled"] + 30
    assert body["train_ms"] is not None and body["train_ms"] > 0
    assert 0 <= body["flip_rate"] <= 1
    events = {e["seq"]: e for e in map(orjson.loads, client.get("/api/export/events").data.splitlines())}
    recorded = events[body["submission"]]
    assert recorded["type"] == "labels_submitted" and recorded["page_ms"] == 4000 and recorded["clicks"] == 5
    assert events[body["history_point"]["seq"]]["type"] == "model_trained"


def test_export_labels_is_jsonl_of_id_and_label(client):
    rows = [orjson.loads(line) for line in client.get("/api/export/labels").data.splitlines()]
    assert rows and all(set(r) == {"id", "label", "concept"} and r["label"] in (0, 1) for r in rows)


def test_export_predictions_covers_every_item(client):
    body = orjson.loads(client.get("/api/export/predictions").data)
    assert len(body["items"]) == 600 and body["threshold"] == 0.5
    assert {"hidden_positives", "precision"} <= set(body["estimates"])


def test_undo_returns_the_page_with_its_labels(client):
    batch = client.get("/api/next_batch?strategy=borderline&batch_size=12").get_json()
    labels = [{"id": it["id"], "label": 1} for it in batch["items"]]
    before, _ = snapshot(client)
    submit(client, labels, batch_id=batch["batch_id"])
    res = client.post("/api/undo")
    assert res.status_code == 200
    body = res.get_json()
    assert body["counts"] == before
    assert [(i["id"], i["label"]) for i in body["page"]["items"]] == [(l["id"], 1) for l in labels]


BAD_SUBMITS = [
    (b"{not json", 400),
    (b'{"id": 1, "label": 1}', 400),
    (b"[]", 400),
    (b'[{"id": 99999, "label": 1}]', 404),
    (b'[{"id": 1, "label": 2}]', 400),
    (b'[{"id": 1, "label": "1"}]', 400),
    (b'[{"id": 1, "label": 1}, {"id": 1, "label": 0}]', 400),
    (b'[{"id": 1.5, "label": 1}]', 400),
]


@pytest.mark.parametrize("body, status", BAD_SUBMITS)
def test_bad_submissions_are_rejected_without_state_change(client, body, status):
    before = snapshot(client)
    res = client.post("/api/submit_labels", data=body, content_type="application/json")
    assert res.status_code == status
    assert "error" in res.get_json()
    assert snapshot(client) == before


@pytest.mark.parametrize("args", ["batch_id=abc", "batch_id=987654", "page_ms=-1", "clicks=x"])
def test_bad_submit_metadata_is_rejected(client, args):
    before = snapshot(client)
    res = client.post(f"/api/submit_labels?{args}", data=b'[{"id": 1, "label": 1}]')
    assert res.status_code == 400 and "error" in res.get_json()
    assert snapshot(client) == before


@pytest.mark.parametrize("query, status", [("batch_size=0", 400), ("batch_size=-3", 400), ("batch_size=x", 400),
                                           ("strategy=nope", 400)])
def test_bad_next_batch_is_rejected_without_state_change(client, query, status):
    before = snapshot(client)
    res = client.get(f"/api/next_batch?{query}")
    assert res.status_code == status and "error" in res.get_json()
    assert snapshot(client) == before


def test_huge_batch_size_is_capped(client):
    body = client.get("/api/next_batch?strategy=random&batch_size=100000").get_json()
    assert len(body["items"]) == 200


@pytest.mark.parametrize("body", [b'{"query": ""}', b'{"query": "   "}', b"[]", b'{"q": "x"}', b"nope",
                                  b'{"query": 5}'])
def test_bad_queries_are_rejected(client, body):
    before = snapshot(client)
    res = client.post("/api/set_query", data=body)
    assert res.status_code == 400 and "error" in res.get_json()
    assert snapshot(client) == before


def test_query_without_text_side_is_409(client):
    res = client.post("/api/set_query", data=b'{"query": "smiling woman"}')
    assert res.status_code == 409 and "zero-shot" in res.get_json()["error"]


def test_unknown_route_and_method_are_json(client):
    assert client.get("/api/nope").get_json()["error"]
    assert client.get("/api/submit_labels").status_code == 405


def test_body_size_limit(client):
    res = client.post("/api/submit_labels", data=b"[" + b" " * (3 * 1024 * 1024) + b"]")
    assert res.status_code == 413 and "error" in res.get_json()


def test_page_and_static_files(client):
    assert client.get("/").status_code == 200
    assert client.get("/static/../pyproject.toml").status_code == 404


def test_undo_with_nothing_left_is_409(new_home):
    app = create_app(Config(home=new_home(), encoder="pixels"), background=False)
    res = app.test_client().post("/api/undo")
    assert res.status_code == 409 and "error" in res.get_json()
