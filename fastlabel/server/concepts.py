"""Concept routes: list, create, switch. Every other route acts on `?concept=NAME` or the current one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from .bodies import field_body
from .runtime import runtime

concepts = Blueprint("concepts", __name__, url_prefix="/api")


def name_body() -> Any:
    return field_body("name", '{"name": "..."}')


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
