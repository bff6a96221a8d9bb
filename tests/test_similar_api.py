""""More like this" over HTTP: ids= on the page route, and the image upload with its checks."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from fastlabel.config import Config
from fastlabel.server.app import create_app

TINY_CLIP = Path(__file__).parent / "fixtures" / "tiny-clip.json"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The demo faces under a tiny random open_clip: an encoder that embeds one new image like the pool's."""
    config = Config(home=tmp_path_factory.mktemp("home"), encoder="clip", clip_model=str(TINY_CLIP),
                    clip_pretrained="")
    app = create_app(config, background=False)
    app.testing = True
    assert app.extensions["fastlabel"].status == "ready", app.extensions["fastlabel"].error
    return app


@pytest.fixture()
def client(app):
    return app.test_client()


def session_of(app):
    return app.extensions["fastlabel"].workspace.session


def png(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def cosine_rank(app, vector: np.ndarray) -> np.ndarray:
    emb = np.asarray(session_of(app).embeddings)
    sims = emb @ vector / np.linalg.norm(emb, axis=1) / np.linalg.norm(vector)
    return np.argsort(-sims, kind="stable")


def test_similar_page_from_cards_is_nearest_unlabeled_prelabeled_positive(app, client):
    emb = np.asarray(session_of(app).embeddings)
    near = cosine_rank(app, emb[40])
    given = [{"id": int(i), "label": 0} for i in near[1:4]]  # three of item 40's nearest are labeled
    assert client.post("/api/submit_labels", data=orjson.dumps(given), content_type="application/json").status_code == 200
    body = client.get("/api/next_batch?strategy=similar&ids=40&batch_size=10").get_json()
    assert body["batch_type"] == "positive" and body["prelabel"] == 1 and body["strategy"] == "similar"
    expected = [int(i) for i in near if i != 40 and int(i) not in {g["id"] for g in given}][:10]
    assert sorted(it["id"] for it in body["items"]) == sorted(expected)


@pytest.mark.parametrize("ids, status, words", [
    ("abc", 400, "comma-separated"), ("1,-2", 400, "comma-separated"), ("600", 404, "unknown id"),
    (",".join(map(str, range(65))), 400, "at most 64"),
])
def test_bad_ids_are_refused_with_a_message(client, ids, status, words):
    res = client.get(f"/api/next_batch?strategy=similar&ids={ids}")
    assert res.status_code == status and words in res.get_json()["error"]


def test_similar_with_no_example_says_what_to_do_and_pixels_cannot_take_an_upload(tmp_path):
    client = create_app(Config(home=tmp_path, encoder="pixels"), background=False).test_client()
    res = client.get("/api/next_batch?strategy=similar")
    assert res.status_code == 400 and "example" in res.get_json()["error"]
    res = client.post("/api/similar_image", data=png(Image.new("RGB", (48, 48))), content_type="image/png")
    assert res.status_code == 409 and "more like this" in res.get_json()["error"]


def test_an_uploaded_image_finds_itself_first(app, client):
    ws = app.extensions["fastlabel"].workspace
    tile = ws.source.image(123)
    res = client.post("/api/similar_image?batch_size=6", data=png(tile), content_type="image/png")
    assert res.status_code == 200, res.get_json()
    body = res.get_json()
    ids = [it["id"] for it in body["items"]]
    assert body["prelabel"] == 1 and len(ids) == 6 and 123 in ids
    vector = np.asarray(ws.session.embeddings)[123]
    labeled = set(ws.session.state.labels)
    expected = [int(i) for i in cosine_rank(app, vector) if int(i) not in labeled][:6]
    assert sorted(ids) == sorted(expected)
    again = client.post("/api/similar_image", data={"image": (io.BytesIO(png(tile, "JPEG")), "face.jpg")},
                        content_type="multipart/form-data")  # the multipart form a browser sends
    assert again.status_code == 200 and 123 in [it["id"] for it in again.get_json()["items"]]


def bomb() -> bytes:
    return png(Image.new("1", (8000, 8000)))  # 64 megapixels in a few kilobytes


@pytest.mark.parametrize("data, kind, status, words", [
    (b"", "image/png", 400, "empty"),
    (b"hello", "text/plain", 415, "send an image"),
    (b"\x89PNG not really", "image/png", 415, "not a readable image"),
    (None, "image/tiff", 415, "TIFF"),
    ("bomb", "image/png", 413, "megapixels"),
    (b"x" * (2 * 1024 * 1024 + 1), "image/png", 413, "over"),
])
def test_bad_uploads_are_refused_with_a_message(client, data, kind, status, words):
    if data is None:
        data = png(Image.new("RGB", (8, 8)), "TIFF")
    elif data == "bomb":
        data = bomb()
    before = session_of(client.application).counts()
    res = client.post("/api/similar_image", data=data, content_type=kind)
    assert res.status_code == status and words in res.get_json()["error"]
    assert session_of(client.application).counts() == before


def test_an_upload_without_the_image_field_is_refused(client):
    res = client.post("/api/similar_image", data={"file": (io.BytesIO(b"x"), "a.png")},
                      content_type="multipart/form-data")
    assert res.status_code == 400 and "image" in res.get_json()["error"]


def test_thumbnails_in_the_answer_are_images(client):
    body = client.get("/api/next_batch?strategy=similar&ids=5&batch_size=3").get_json()
    for item in body["items"]:
        assert Image.open(io.BytesIO(base64.b64decode(item["image"]))).size == (48, 48)
