"""Label routes: the review page, the labeled gallery, and corrections of labels already given."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidInput
from ..events.records import CORRECTION_ORIGINS
from ..session.labeled import FILTERS, labeled_items
from .auth import current_labeler
from .bodies import int_arg, json_body, parse_labels, request_id_arg
from .media import item_json
from .pages import batch_json
from .runtime import runtime

labels = Blueprint("labels", __name__, url_prefix="/api")
MAX_PAGE = 200


def page_size() -> int:
    rt = runtime()
    size = int_arg("size", default=rt.config.batch_size, minimum=1, maximum=None) or rt.config.batch_size
    return min(size, rt.config.max_batch_size, MAX_PAGE)


@labels.get("/review")
def review() -> Response:
    """Labeled items whose out-of-fold prediction disagrees most with the human label; each card's
    "label" is the human label and "prob_pos" the out-of-fold prediction."""
    if request.method == "HEAD":  # a probe: serves and records nothing
        return Response(status=200, mimetype="application/json")
    ws = runtime().workspace
    batch = ws.session.review(page_size(), labeler=current_labeler())
    body = batch_json(ws, batch)
    given = ws.session.state.labels
    for item in body["items"]:
        item["label"] = given[item["id"]]
    return jsonify(body)


@labels.get("/labeled")
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
    shown = rows[offset:offset + limit]
    ws.warm_cards([r.id for r in shown])
    items = [item_json(ws, r.id, probs[r.id], label=r.label, corrected=r.corrected) for r in shown]
    return jsonify({"items": items, "total": len(rows), "offset": offset, "filter": which,
                    "counts": ws.session.counts()})


@labels.post("/correct")
def correct() -> Response:
    """Change labels already given: ?origin=review|gallery (&batch_id= of the review page), body
    [{"id", "label"}]. Recorded as a labels_corrected event; the head retrains."""
    origin = request.args.get("origin") or "gallery"
    if origin not in CORRECTION_ORIGINS:
        raise InvalidInput(f"origin must be one of {', '.join(CORRECTION_ORIGINS)}")
    session = runtime().workspace.session
    done = session.correct(parse_labels(json_body(), session.n_items), origin=origin, batch_id=int_arg("batch_id"),
                           labeler=current_labeler(),
                           request_id=request_id_arg())
    return jsonify({"counts": session.counts(), "train_ms": done.point.train_ms, "submission": done.seq,
                    "history_point": done.point.to_dict(), "repeated": done.repeated,
                    "retrain_queued": done.queued, **({"warning": done.warning} if done.warning else {})})
