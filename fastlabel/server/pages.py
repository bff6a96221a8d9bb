"""A page of cards as JSON: what /api/next_batch, the review page and the image search answer."""

from __future__ import annotations

from typing import Any

from ..session import Batch
from ..workspace import Workspace
from .media import item_json


def batch_json(ws: Workspace, batch: Batch) -> dict[str, Any]:
    ws.warm_cards(batch.ids)
    starts = batch.starts if batch.starts is not None and len(batch.starts) == len(batch.ids) else None
    items = [item_json(ws, i, p, **({"prelabel": starts[k]} if starts is not None else {}))
             for k, (i, p) in enumerate(zip(batch.ids, batch.probs))]
    out: dict[str, Any] = {
        "items": items,  # each card's "prelabel": the label it starts with (audit cards: the model's guess)
        "batch_type": batch.batch_type,
        "strategy": batch.strategy,
        "batch_id": batch.batch_id,
        "exhausted": batch.exhausted,
    }
    if batch.message:
        out["message"] = batch.message
    if batch.prelabel is not None:  # the strategy's cards: 1 on "more like this", 0 before any model
        out["prelabel"] = batch.prelabel
    if batch.audit is not None:
        out["audit"] = batch.audit
    if batch.overlap:  # cards someone else labeled already: the agreement sample
        out["overlap"] = batch.overlap
    return out
