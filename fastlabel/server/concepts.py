"""Concept routes (list, create, switch), the review page, the labeled gallery, corrections, and an
item's image at full size. Every route here, like every other, acts on `?concept=NAME` or the current one."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from PIL import Image

from ..errors import InvalidInput, UnknownItem
from ..events.records import CORRECTION_ORIGINS
from ..session.labeled import FILTERS, labeled_items
from .bodies import int_arg, json_body, parse_labels, request_id_arg
from .routes import batch_json, item_json
from .runtime import Runtime

concepts = Blueprint("concepts", __name__, url_prefix="/api")
MAX_PAGE = 200
FULL_SIZE = 1600  # longest side of an image shown close up; larger sources are scaled down


def runtime() -> Runtime:
    return current_app.extensions["fastlabel"]


def name_body() -> Any:
    raw = json_body()
    if not isinstance(raw, dict) or set(raw) != {"name"}:
        raise InvalidInput('body must be {"name": "..."}')
    return raw["name"]


def listing() -> dict[str, Any]:
    reg = runtime().workspace.concepts
    return {"concepts": reg.listing(), "current": reg.current}


@concepts.get("/concepts")
def list_concepts() -> Response:
    return jsonify(listing())


@concepts.post("/concepts")
def create_concept() -> Response:
    """A new concept, made current: the page switches to it."""
    reg = runtime().workspace.concepts
    name = reg.switch(reg.create(name_body()))
    return jsonify({"name": name, **listing()}), 201


@concepts.post("/concepts/current")
def switch_concept() -> Response:
    name = runtime().workspace.concepts.switch(name_body())
    return jsonify({"name": name, **listing()})


def page_size() -> int:
    rt = runtime()
    size = int_arg("size", default=rt.config.batch_size, minimum=1, maximum=None) or rt.config.batch_size
    return min(size, rt.config.max_batch_size, MAX_PAGE)


@concepts.get("/review")
def review() -> Response:
    """Labeled items whose out-of-fold prediction disagrees most with the human label; each card's
    "label" is the human label and "prob_pos" the out-of-fold prediction."""
    if request.method == "HEAD":  # a probe: serves and records nothing
        return Response(status=200, mimetype="application/json")
    ws = runtime().workspace
    batch = ws.session.review(page_size())
    body = batch_json(ws, batch)
    labels = ws.session.state.labels
    for item in body["items"]:
        item["label"] = labels[item["id"]]
    return jsonify(body)


@concepts.get("/labeled")
def labeled() -> Response:
    """Labeled items, newest first: ?filter=all|positive|negative|corrected&offset=&limit=."""
    which = request.args.get("filter") or "all"
    if which not in FILTERS:
        raise InvalidInput(f"filter must be one of {', '.join(FILTERS)}")
    offset = int_arg("offset", default=0) or 0
    limit = min(int_arg("limit", default=48, minimum=1, maximum=None) or 48, MAX_PAGE)
    ws = runtime().workspace
    rows = labeled_items(ws.session.state, which)
    probs = ws.session.probs
    items = [item_json(ws, r.id, probs[r.id], label=r.label, corrected=r.corrected)
             for r in rows[offset:offset + limit]]
    return jsonify({"items": items, "total": len(rows), "offset": offset, "filter": which,
                    "counts": ws.session.counts()})


@concepts.post("/correct")
def correct() -> Response:
    """Change labels already given: ?origin=review|gallery (&batch_id= of the review page), body
    [{"id", "label"}]. Recorded as a labels_corrected event; the head retrains."""
    origin = request.args.get("origin") or "gallery"
    if origin not in CORRECTION_ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(CORRECTION_ORIGINS)}")
    session = runtime().workspace.session
    done = session.correct(parse_labels(json_body(), session.n_items), origin=origin, batch_id=int_arg("batch_id"),
                           request_id=request_id_arg())
    return jsonify({"counts": session.counts(), "train_ms": done.point.train_ms, "submission": done.seq,
                    "history_point": done.point.to_dict(), "repeated": done.repeated,
                    **({"warning": done.warning} if done.warning else {})})


@concepts.get("/image/<int:item>")
def full_image(item: int) -> Response:
    """An item's image at its own resolution (at most 1600 px a side), for the closer look."""
    ws = runtime().workspace
    if not 0 <= item < ws.session.n_items:
        raise UnknownItem(f"unknown id {item} (ids are 0..{ws.session.n_items - 1})")
    image = ws.source.image(item)
    if max(image.size) > FULL_SIZE:
        image = image.copy()
        image.thumbnail((FULL_SIZE, FULL_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if max(image.size) > 256:
        image.convert("RGB").save(buffer, "JPEG", quality=90)
        mimetype = "image/jpeg"
    else:
        image.save(buffer, "PNG")
        mimetype = "image/png"
    return Response(buffer.getvalue(), mimetype=mimetype, headers={"Cache-Control": "private, max-age=3600"})
