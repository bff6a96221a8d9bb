"""The labeling loop's routes (state, query, next page, submit, undo) and the downloads: parse the
request, call the session, shape the answer."""

from __future__ import annotations

import re
from typing import Any

import orjson
from flask import Blueprint, Response, jsonify, request

from ..threshold import THRESHOLD
from .auth import current_labeler
from .bodies import exemplar_ids, field_body, int_arg, json_body, parse_labels, request_id_arg
from .media import item_json
from .pages import batch_json
from .runtime import runtime

api = Blueprint("api", __name__, url_prefix="/api")


@api.get("/state")
def state() -> Response:
    rt = runtime()
    cfg = rt.config
    body: dict[str, Any] = {"status": rt.status, "progress": rt.progress, "error": rt.error,
                            "batch_size": cfg.batch_size, "max_batch_size": cfg.max_batch_size,
                            "default_strategy": cfg.default_strategy, "threshold": THRESHOLD}
    if rt.status == "ready":
        body.update(rt.workspace.summary())
        body["default_strategy"] = rt.workspace.default_strategy
        body["journal_problems"] = rt.workspace.session.log.problems  # e.g. a torn last line skipped
    return jsonify(body)


@api.post("/set_query")
def set_query() -> Response:
    text = field_body("query", '{"query": "..."}')
    session = runtime().workspace.session
    query = session.set_query(text, labeler=current_labeler())
    return jsonify({"query": query, "counts": session.counts()})


@api.post("/set_goal")
def set_goal() -> Response:
    name = field_body("goal", '{"goal": "find"} or {"goal": "train"}')
    session = runtime().workspace.session
    goal = session.set_goal(name)
    return jsonify({"goal": goal.name, "strategy": goal.strategy, **session.insights()})


@api.get("/next_batch")
def next_batch() -> Response:
    if request.method == "HEAD":  # a probe: serves and records nothing
        return Response(status=200, mimetype="application/json")
    rt = runtime()
    strategy = request.args.get("strategy") or rt.workspace.default_strategy
    size = int_arg("batch_size", default=rt.config.batch_size, minimum=1, maximum=None)
    size = min(size or rt.config.batch_size, rt.config.max_batch_size)
    ws = rt.workspace
    exemplars = exemplar_ids(request.args.get("ids"), ws.session.n_items)
    return jsonify(batch_json(ws, ws.session.next_batch(strategy, size, exemplars=exemplars,
                                                                 labeler=current_labeler())))


@api.post("/submit_labels")
def submit_labels() -> Response:
    rt = runtime()
    session = rt.workspace.session
    labels = parse_labels(json_body(), session.n_items)
    done = session.submit(labels, batch_id=int_arg("batch_id"), page_ms=int_arg("page_ms"),
                          clicks=int_arg("clicks"), request_id=request_id_arg(), labeler=current_labeler())
    point = done.point  # the push to every tab follows the retrain (Runtime subscribes to it)
    return jsonify({"counts": session.counts(), "train_ms": point.train_ms, "flip_rate": point.flip_rate,
                    "submission": done.seq, "history_point": point.to_dict(), "repeated": done.repeated,
                    "retrain_queued": done.queued, **({"warning": done.warning} if done.warning else {})})


@api.post("/undo")
def undo() -> Response:
    rt = runtime()
    ws = rt.workspace
    undone = ws.session.undo(request_id_arg(), labeler=current_labeler())
    page, given = undone.page, dict(undone.labels)
    order = [i for i in page.ids if i in given] if page is not None else list(given)
    probs = ws.session.probs
    ws.warm_cards(order)
    items = [item_json(ws, i, probs[i], label=given[i]) for i in order]
    return jsonify({"counts": ws.session.counts(),
                    "page": {"items": items, "batch_type": page.batch_type if page else "neutral",
                             "batch_id": page.seq if page else None}, "repeated": undone.repeated,
                    "retrain_queued": undone.queued, **({"warning": undone.warning} if undone.warning else {})})


def concept_file(stem: str, concept: str, suffix: str) -> str:
    """A download name that says which concept it holds, in plain characters: labels-smiling.jsonl."""
    return f"{stem}-{re.sub(r'[^A-Za-z0-9_-]+', '-', concept).strip('-')[:60] or 'concept'}{suffix}"


def jsonl_download(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/x-ndjson",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@api.get("/export/labels")
def export_labels() -> Response:
    ws = runtime().workspace
    return jsonl_download(ws.export_labels_jsonl(), concept_file("labels", ws.session.state.concept, ".jsonl"))


@api.get("/export/predictions")
def export_predictions() -> Response:
    ws = runtime().workspace
    body = ws.predictions()  # with paths, and removed files marked, for a folder
    return Response(orjson.dumps(body), mimetype="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="{concept_file("predictions", body["concept"], ".json")}"'})


@api.get("/export/events")
def export_events() -> Response:
    session = runtime().workspace.session
    return jsonl_download(session.export_events_jsonl(), concept_file("session", session.state.concept, ".jsonl"))
