"""Request bodies and query arguments, checked before anything reaches the session."""

from __future__ import annotations

from typing import Any

import orjson
from flask import request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..errors import InvalidInput, UnknownItem
from ..events.records import check_request_id

MAX_INT_ARG = 2**53 - 1  # stays exact in JSON everywhere (and in the journal's 64-bit ints)
MAX_EXEMPLARS = 64  # ids= of a "more like this" page


def json_body() -> Any:
    try:
        data = request.get_data(cache=False)
    except HTTPException:
        raise
    except Exception as exc:  # a body the server cannot read: bad chunked encoding, a dropped connection
        raise InvalidInput(f"unreadable request body ({type(exc).__name__})") from None
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        raise RequestEntityTooLarge()  # a chunked body is cut at the limit, not refused: refuse it here
    try:
        return orjson.loads(data or b"")
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None


def field_body(name: str, shape: str) -> Any:
    """The value in a body that must be exactly {name: ...}; `shape` shows the caller a good one."""
    raw = json_body()
    if not isinstance(raw, dict) or set(raw) != {name}:
        raise InvalidInput(f"body must be {shape}")
    return raw[name]


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


def exemplar_ids(raw: str | None, n_items: int) -> tuple[int, ...]:
    """`ids=3,17,42` -> (3, 17, 42): known ids, no repeats, at most MAX_EXEMPLARS."""
    if raw is None or not raw.strip():
        return ()
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > MAX_EXEMPLARS:
        raise InvalidInput(f"ids: at most {MAX_EXEMPLARS} examples at once, got {len(parts)}")
    ids: dict[int, None] = {}
    for part in parts:
        if not (part.isascii() and part.isdigit()):
            raise InvalidInput(f"ids must be comma-separated item ids, got {part[:20]!r}")
        item = int(part)
        if item >= n_items:
            raise UnknownItem(f"ids: unknown id {item} (ids are 0..{n_items - 1})")
        ids.setdefault(item)
    return tuple(ids)


def parse_labels(raw: Any, n_items: int) -> tuple[tuple[int, int], ...]:
    """Check a submitted page: a non-empty list of {"id", "label"} with known ids, labels 0/1, no repeats."""
    if not isinstance(raw, list):
        raise InvalidInput("body must be a JSON list of {\"id\": int, \"label\": 0 or 1}")
    if not raw:
        raise InvalidInput("no labels submitted")
    seen: set[int] = set()
    out: list[tuple[int, int]] = []
    for k, entry in enumerate(raw):
        if not isinstance(entry, dict) or set(entry) - {"id", "label"} or "id" not in entry or "label" not in entry:
            raise InvalidInput(f"entry {k} must be an object with exactly \"id\" and \"label\"")
        item, label = entry["id"], entry["label"]
        if isinstance(item, bool) or not isinstance(item, int):
            raise InvalidInput(f"entry {k}: id must be an integer")
        if isinstance(label, bool) or not isinstance(label, int) or label not in (0, 1):  # 1.0 is not a label
            raise InvalidInput(f"entry {k}: label must be 0 or 1")
        if not 0 <= item < n_items:
            raise UnknownItem(f"entry {k}: unknown id {item} (ids are 0..{n_items - 1})")
        if item in seen:
            raise InvalidInput(f"entry {k}: id {item} appears twice in one submission")
        seen.add(item)
        out.append((item, int(label)))
    return tuple(out)


def request_id_arg() -> str | None:
    """The client's id for a change (?request_id=), so that a repeat is answered, not applied again."""
    raw = request.args.get("request_id")
    if raw is None or raw == "":
        return None
    check_request_id(raw)
    return raw
