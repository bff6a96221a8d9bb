"""Thin HTTP routes: parse the request, call the session, shape the answer."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import InvalidInput
from ..session import Batch, TrainPoint, parse_labels
from .runtime import Runtime

api = Blueprint("api", __name__, url_prefix="/api")
MAX_INT_ARG = 2**53 - 1  # stays exact in JSON everywhere (and in the journal's 64-bit ints)


def runtime() -> Runtime:
    return current_app.extensions["fastlabel"]


def json_body() -> Any:
    data = request.get_data(cache=False)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()  # a chunked body is cut at the limit, not refused: refuse it here
    try:
        return orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


def int_arg(name: str, *, default: int | None = None, minimum: int = 0,
            maximum: int | None = MAX_INT_ARG) -> int | None:
    """A query-string integer within [minimum, maximum] (no maximum: the caller clamps)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer, got {raw[:40]!r}") from None
    if value < minimum:
        raise InvalidInput(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidInput(f"{name} must be at most {maximum}")
    return value


def item_json(ws, item: int, prob: float, **extra: Any) -> dict[str, Any]:
    image = base64.b64encode(ws.source.thumbnail(item)).decode("ascii")
    name = ws.item_name(item)  # a photo's path, shown on hover
    return {"id": item, "image": image, "prob_pos": round(float(prob), 4), **({"name": name} if name else {}), **extra}


def batch_json(ws, batch: Batch) -> dict[str, Any]:
    out: dict[str, Any] = {
        "items": [item_json(ws, i, p) for i, p in zip(batch.ids, batch.probs)],
        "batch_type": batch.batch_type,
        "strategy": batch.strategy,
        "batch_id": batch.batch_id,
        "exhausted": batch.exhausted,
    }
    if batch.message:
        out["message"] = batch.message
    return out


def push_trained(rt: Runtime, point: TrainPoint) -> None:
    """Tell every tab the new probabilities of the cards it shows, and the new counts."""
    session = rt.workspace.session
    probs = session.probs
    common = {"type": "trained", "counts": session.counts(), "last_train_ms": point.train_ms,
              "history_point": point.to_dict()}
    rt.hub.broadcast(lambda c: {**common, "probs": {str(i): round(float(probs[i]), 4) for i in c.watched}})


@api.get("/state")
def state() -> Response:
    rt = runtime()
    cfg = rt.config
    body: dict[str, Any] = {"status": rt.status, "progress": rt.progress, "error": rt.error,
                            "batch_size": cfg.batch_size, "max_batch_size": cfg.max_batch_size,
                            "default_strategy": cfg.default_strategy}
    if rt.status == "ready":
        body.update(rt.workspace.summary())
        body["journal_problems"] = rt.workspace.session.log.problems  # e.g. a torn last line skipped
    return jsonify(body)


@api.post("/set_query")
def set_query() -> Response:
    raw = json_body()
    if not isinstance(raw, dict) or set(raw) != {"query"}:
        raise InvalidInput('body must be {"query": "..."}')
    session = runtime().workspace.session
    query = session.set_query(raw["query"])
    return jsonify({"query": query, "counts": session.counts()})


@api.get("/next_batch")
def next_batch() -> Response:
    rt = runtime()
    strategy = request.args.get("strategy") or rt.config.default_strategy
    size = int_arg("batch_size", default=rt.config.batch_size, minimum=1, maximum=None)
    size = min(size or rt.config.batch_size, rt.config.max_batch_size)
    ws = rt.workspace
    return jsonify(batch_json(ws, ws.session.next_batch(strategy, size)))


@api.post("/submit_labels")
def submit_labels() -> Response:
    rt = runtime()
    session = rt.workspace.session
    labels = parse_labels(json_body(), session.n_items)
    done = session.submit(labels, batch_id=int_arg("batch_id"), page_ms=int_arg("page_ms"),
                          clicks=int_arg("clicks"))
    point = done.point
    push_trained(rt, point)
    return jsonify({"counts": session.counts(), "train_ms": point.train_ms, "flip_rate": point.flip_rate,
                    "submission": done.seq, "history_point": point.to_dict()})


@api.post("/undo")
def undo() -> Response:
    rt = runtime()
    ws = rt.workspace
    labels, page = ws.session.undo()
    given = dict(labels)
    order = [i for i in page.ids if i in given] if page is not None else list(given)
    probs = ws.session.probs
    items = [item_json(ws, i, probs[i], label=given[i]) for i in order]
    push_trained(rt, ws.session.trend[-1])  # the retrain that followed the undo
    return jsonify({"counts": ws.session.counts(),
                    "page": {"items": items, "batch_type": page.batch_type if page else "neutral",
                             "batch_id": page.seq if page else None}})


def jsonl_download(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@api.get("/export/labels")
def export_labels() -> Response:
    ws = runtime().workspace
    return jsonl_download(ws.export_labels_jsonl(), "labels.jsonl")


@api.get("/export/predictions")
def export_predictions() -> Response:
    ws = runtime().workspace
    body = ws.predictions()  # with paths, and removed files marked, for a folder
    return Response(orjson.dumps(body), mimetype="application/json",
                    headers={"Content-Disposition": 'attachment; filename="predictions.json"'})


@api.get("/export/events")
def export_events() -> Response:
    return jsonl_download(runtime().workspace.session.export_events_jsonl(), "session.jsonl")
