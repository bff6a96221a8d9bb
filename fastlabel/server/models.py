"""Model routes: the list of model versions, a version as a downloadable model file, and the label table."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from ..errors import InvalidInput
from ..model.artifact import to_bytes
from ..model.label_table import csv_bytes, label_table, parquet_bytes
from ..model.versions import export_version, model_versions, source_args
from .runtime import runtime

models = Blueprint("models", __name__, url_prefix="/api")
MAX_LISTED = 20


def file_name(concept: str, seq: int) -> str:
    """A safe download name: the concept in plain characters, then the version."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", concept).strip("-")[:60] or "model"
    return f"{stem}-v{seq}.safetensors"


@models.get("/models")
def list_versions() -> Response:
    """The latest model versions, newest first: labels, positives, train time, the estimates at that point."""
    session = runtime().workspace.session
    points = {p.seq: p for p in session.history()}
    out: list[dict[str, Any]] = []
    for v in reversed(model_versions(session.log.events)):
        if not v.has_head:
            continue
        point = points.get(v.seq)
        out.append({**v.to_dict(), "train_ms": point.train_ms if point else None,
                    "estimates": point.estimates if point else None})
        if len(out) == MAX_LISTED:
            break
    return jsonify({"concept": session.state.concept, "versions": out})


@models.get("/export/model")
def export_model() -> Response:
    """Version `seq` (default: the latest) as a model file download."""
    raw = request.args.get("seq")
    seq = None
    if raw not in (None, ""):
        if not raw.isdigit():
            raise InvalidInput(f"seq must be a model_trained event number, got {raw[:40]!r}")
        seq = int(raw)
    ws = runtime().workspace
    export = export_version(ws.session, ws.encoder, seq, **source_args(ws.source))
    meta = export.metadata
    data = to_bytes(export.tensors, meta)
    name = file_name(meta["concept"], meta["session"]["seq"])
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


TABLE_FORMATS = {"csv": (csv_bytes, "text/csv"), "parquet": (parquet_bytes, "application/vnd.apache.parquet")}


@models.get("/export/table")
def export_table() -> Response:
    """Every item with a column group per concept (label, prob_pos, labeler), as CSV (default) or Parquet."""
    fmt = request.args.get("format", "csv")
    if fmt not in TABLE_FORMATS:
        raise InvalidInput(f"format must be csv or parquet, got {fmt[:40]!r}")
    encode, mimetype = TABLE_FORMATS[fmt]
    data = encode(label_table(runtime().workspace))
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="labels-table.{fmt}"'})
