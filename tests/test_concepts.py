"""Concepts: names and their file form, and the API through Flask's test client (create, list, switch,
separate labels, refusals on every route, a restart that reopens every concept)."""

from __future__ import annotations

import io
import string
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from fastlabel.concepts import check_name, file_stem, name_from_stem
from fastlabel.config import Config
from fastlabel.errors import InvalidInput
from fastlabel.server.app import create_app

BAD_NAMES = ["", "   ", "../etc", "a/b", "a\\b", "..", ".hidden", "-x", "x" * 41, "tab\there", "new\nline", "nul\x00",
             "semi;colon", "%2e%2e"]


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["smiling", "Wearing a hat", "  eyeglasses ", "v1.2", "lächeln", "Blond_Hair-2"])
def test_good_names_are_kept_trimmed(raw):
    assert check_name(raw) == raw.strip()


@pytest.mark.parametrize("raw", BAD_NAMES + [None, 3, ["x"]])
def test_bad_names_are_refused(raw):
    with pytest.raises(InvalidInput):
        check_name(raw)


@given(st.text(alphabet=string.ascii_letters + string.digits + " -_.äé漢", min_size=1, max_size=40))
def test_file_stem_is_safe_and_reversible(name):
    stem = file_stem(name)
    assert set(stem) <= set(string.ascii_lowercase + string.digits + "-_")
    assert name_from_stem(stem) == name


def test_file_stem_separates_case_and_spaces():
    stems = {file_stem(n) for n in ("Smiling", "smiling", "smi ling", "smi_ling", "smi_5fling")}
    assert len(stems) == 5
    assert name_from_stem("_2e_2e_2f") == "../"  # decodes, but check_name would refuse it
    assert name_from_stem("_zz") is None and name_from_stem("Upper") is None


# -- the API ----------------------------------------------------------------------------------
def make_app(home: Path):
    app = create_app(Config(home=home, encoder="pixels"), background=False)
    app.testing = True
    return app


def close(app) -> None:
    app.extensions["fastlabel"].close()


def label_page(client, concept: str, rule) -> list[tuple[int, int]]:
    batch = client.get(f"/api/next_batch?batch_size=24&concept={concept}").get_json()
    labels = [{"id": it["id"], "label": rule(it["id"])} for it in batch["items"]]
    res = client.post(f"/api/submit_labels?batch_id={batch['batch_id']}&concept={concept}", json=labels)
    assert res.status_code == 200, res.get_json()
    return [(x["id"], x["label"]) for x in labels]


@pytest.fixture(scope="module")
def home(new_home):
    return new_home("concepts")


@pytest.fixture(scope="module")
def app(home):
    app = make_app(home)
    yield app
    close(app)


def test_create_list_switch(app):
    c = app.test_client()
    first = c.get("/api/concepts").get_json()
    assert first["current"] == "positive" and [x["name"] for x in first["concepts"]] == ["positive"]
    made = c.post("/api/concepts", json={"name": "smiling"})
    assert made.status_code == 201
    assert made.get_json()["current"] == "smiling"
    assert c.get("/api/state").get_json()["concept"] == "smiling"  # routes without ?concept= act on the current one
    assert c.post("/api/concepts", json={"name": "Smiling"}).status_code == 409
    assert c.post("/api/concepts", json={"name": "eyeglasses"}).status_code == 201
    names = [x["name"] for x in c.get("/api/concepts").get_json()["concepts"]]
    assert names == ["positive", "eyeglasses", "smiling"]
    switched = c.post("/api/concepts/current", json={"name": "SMILING"})
    assert switched.status_code == 200 and switched.get_json()["current"] == "smiling"
    assert c.post("/api/concepts/current", json={"name": "hat"}).status_code == 404
    assert c.post("/api/concepts", json={"name": "x", "extra": 1}).status_code == 400


def test_labels_stay_separate(app):
    c = app.test_client()
    for name in ("smiling", "eyeglasses"):
        if c.post("/api/concepts", json={"name": name}).status_code not in (201, 409):
            raise AssertionError(name)
    smiling = label_page(c, "smiling", lambda i: i % 2)
    glasses = label_page(c, "eyeglasses", lambda i: int(i % 5 == 0))
    s_state = c.get("/api/state?concept=smiling").get_json()
    g_state = c.get("/api/state?concept=eyeglasses").get_json()
    assert s_state["concept"] == "smiling" and g_state["concept"] == "eyeglasses"
    assert s_state["counts"]["labeled"] >= 24 and g_state["counts"]["labeled"] >= 24
    s_labels = {r["id"]: r["label"] for r in map(orjson.loads, c.get("/api/export/labels?concept=smiling").data.splitlines())}
    g_labels = {r["id"]: r["label"] for r in
                map(orjson.loads, c.get("/api/export/labels?concept=eyeglasses").data.splitlines())}
    assert all(s_labels[i] == y for i, y in smiling) and all(g_labels[i] == y for i, y in glasses)
    events = c.get("/api/export/events?concept=eyeglasses").data.splitlines()
    assert orjson.loads(events[0])["concept"] == "eyeglasses"
    assert c.get("/api/export/predictions?concept=smiling").get_json()["counts"] == s_state["counts"]
    listing = {x["name"]: x for x in c.get("/api/concepts").get_json()["concepts"]}
    assert listing["smiling"]["labeled"] == s_state["counts"]["labeled"]
    assert listing["positive"]["labeled"] == 0


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(buffer, "PNG")
    return buffer.getvalue()


ACCOUNT_ROUTES = {"/api/signin", "/api/signout", "/api/me", "/api/users", "/api/users/<name>",
                  "/api/users/<name>/rotate"}  # who is signed in, and the users: not about any concept


def every_route(app) -> list[tuple[str, str, object]]:
    """(method, path, a valid body) for every /api route that acts on a concept."""
    bodies = {"/api/set_query": {"query": "x"}, "/api/submit_labels": [{"id": 0, "label": 1}],
              "/api/concepts": {"name": "fresh one"}, "/api/concepts/current": {"name": "positive"},
              "/api/correct": [{"id": 0, "label": 1}], "/api/set_goal": {"goal": "find"},
              "/api/team/overlap": {"per_page": 2}}
    out = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule in ACCOUNT_ROUTES:
            continue
        path = rule.rule.replace("<int:item>", "0")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((method, path, bodies.get(path) if method == "POST" else None))
    return out


@pytest.mark.parametrize("concept, status", [("nope", 404), ("../../etc/passwd", 400), ("a%2Fb", 400),
                                             ("..", 400), ("", None)])
def test_every_route_refuses_unknown_and_bad_concepts(app, concept, status):
    c = app.test_client()
    routes = every_route(app)
    assert len(routes) >= 15
    before = {p.name: p.stat().st_size for p in Path(app.extensions["fastlabel"].config.home).rglob("*.jsonl")}
    for method, path, body in routes:
        if status is None:
            continue
        if path == "/api/similar_image":  # an image upload, checked before the concept is looked at
            res = c.open(f"{path}?concept={concept}", method=method, data=png(), content_type="image/png")
        else:
            res = c.open(f"{path}?concept={concept}", method=method, json=body)
        assert res.status_code == status, (method, path, res.status_code, res.get_json())
        assert "error" in res.get_json()
    after = {p.name: p.stat().st_size for p in Path(app.extensions["fastlabel"].config.home).rglob("*.jsonl")}
    assert after == before  # refused requests wrote nothing


def test_restart_reopens_every_concept(new_home):
    home = new_home("restart")
    first = make_app(home)
    c = first.test_client()
    c.post("/api/concepts", json={"name": "smiling"})
    c.post("/api/concepts", json={"name": "wearing a hat"})
    given_s = label_page(c, "smiling", lambda i: i % 2)
    given_h = label_page(c, "wearing a hat", lambda i: int(i % 3 == 0))
    probs_before = {n: c.get(f"/api/export/predictions?concept={n}").get_json()["items"]
                    for n in ("smiling", "wearing a hat")}
    c.post("/api/concepts/current", json={"name": "smiling"})
    close(first)

    second = make_app(home)
    c = second.test_client()
    try:
        listing = c.get("/api/concepts").get_json()
        assert listing["current"] == "smiling"  # the one current when the server stopped
        assert [x["name"] for x in listing["concepts"]] == ["positive", "smiling", "wearing a hat"]
        second.extensions["fastlabel"].workspace.concepts.wait_open(60)  # the others, replayed in the background
        assert all(x["open"] for x in c.get("/api/concepts").get_json()["concepts"])
        for name, given_labels in (("smiling", given_s), ("wearing a hat", given_h)):
            rows = {r["id"]: r["label"] for r in
                    map(orjson.loads, c.get(f"/api/export/labels?concept={name}").data.splitlines())}
            assert rows == dict(given_labels)
            after = c.get(f"/api/export/predictions?concept={name}").get_json()["items"]
            assert [x["prob_pos"] for x in after] == [x["prob_pos"] for x in probs_before[name]]  # same model
    finally:
        close(second)


def test_serve_concept_opens_or_creates(new_home):
    home = new_home("cli-concept")
    app = create_app(Config(home=home, encoder="pixels", concept="Eyeglasses"), background=False)
    c = app.test_client()
    assert c.get("/api/concepts").get_json()["current"] == "Eyeglasses"
    close(app)
    app = create_app(Config(home=home, encoder="pixels", concept="eyeglasses"), background=False)
    c = app.test_client()
    assert [x["name"] for x in c.get("/api/concepts").get_json()["concepts"]] == ["Eyeglasses"]
    close(app)
    app = create_app(Config(home=home, encoder="pixels", concept="hat"), background=False)
    close(app)
    app = create_app(Config(home=home, encoder="pixels"), background=False)  # no --concept: the one used last
    listing = app.test_client().get("/api/concepts").get_json()
    assert listing["current"] == "hat" and [x["name"] for x in listing["concepts"]] == ["Eyeglasses", "hat"]
    close(app)
    bad = create_app(Config(home=home, encoder="pixels", concept="../x"), background=False)
    assert bad.extensions["fastlabel"].failed and "concept name" in bad.extensions["fastlabel"].error


def test_review_gallery_and_corrections_through_the_api(app):
    c = app.test_client()
    if c.post("/api/concepts", json={"name": "glasses api"}).status_code != 201:
        raise AssertionError("could not create")
    given = dict(label_page(c, "glasses api", lambda i: int(i % 3 == 0)))
    journal_lines = len(c.get("/api/export/events?concept=glasses api").data.splitlines())
    assert c.head("/api/review?concept=glasses api").status_code == 200  # a probe records nothing
    assert len(c.get("/api/export/events?concept=glasses api").data.splitlines()) == journal_lines
    page = c.get("/api/review?size=5&concept=glasses api").get_json()
    assert len(page["items"]) == 5 and page["strategy"] == "review"
    assert all(it["label"] == given[it["id"]] and 0 <= it["prob_pos"] <= 1 for it in page["items"])
    item = page["items"][0]["id"]
    res = c.post(f"/api/correct?origin=review&batch_id={page['batch_id']}&concept=glasses api",
                 json=[{"id": item, "label": 1 - given[item]}])
    assert res.status_code == 200 and res.get_json()["counts"]["labeled"] == len(given)
    corrected = c.get("/api/labeled?filter=corrected&concept=glasses api").get_json()
    assert [(x["id"], x["label"], x["corrected"]) for x in corrected["items"]] == [(item, 1 - given[item], True)]
    newest = c.get("/api/labeled?limit=3&concept=glasses api").get_json()
    assert newest["total"] == len(given) and newest["items"][0]["id"] == item  # newest first
    assert c.post("/api/correct?concept=glasses api", json=[{"id": 599 if 599 not in given else 598, "label": 1}]
                  ).status_code == 400  # only labeled items
    assert c.get("/api/labeled?filter=odd&concept=glasses api").status_code == 400
    assert c.get("/api/image/0?concept=glasses api").status_code == 200
    assert c.get("/api/image/600?concept=glasses api").status_code == 404
