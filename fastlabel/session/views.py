"""What the page, the exports and `fastlabel replay` show: pure functions of the session's state,
its probabilities and its retrain history."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import orjson

from .effort import effort_stats
from .estimates import (QualityEstimates, find_progress, find_stopping_signal, page_hit_rates, quality_estimates,
                        stopping_signal)
from ..events import SessionState
from ..events.label_policy import given_by
from ..users import OWNER
from .training import TrainPoint


def counts(state: SessionState) -> dict[str, int]:
    return {"labeled": len(state.labels), "positive": state.n_positive, "negative": state.n_negative}


def labeler_fields(state: SessionState) -> dict[int, dict[str, Any]] | None:
    """Who gave each label, for the exports: "labeler" (the latest labeler whose label is the one in
    effect), "votes" when several labeled it, "resolved" when an admin decided. None when nobody but
    "owner" ever labeled (a single-user journal exports exactly as before there were teams)."""
    if all(set(by) <= {OWNER} for by in state.votes.values()):
        return None
    out: dict[int, dict[str, Any]] = {}
    for item, label in state.labels.items():
        by = state.votes.get(item, {})
        row: dict[str, Any] = {"labeler": given_by(by, label)}
        if len(by) > 1:
            row["votes"] = {name: by[name][0] for name in sorted(by)}
        if item in state.resolved:
            row["resolved"] = True
        out[item] = row
    return out


def labels_jsonl(labels: Mapping[int, int], names: Sequence[str] | None = None, concept: str | None = None,
                 who: Mapping[int, Mapping[str, Any]] | None = None) -> bytes:
    """One {"id", "label"} per line (plus "path" when the data has file names, "concept" when given,
    and who gave it: `labeler_fields`), in id order."""
    extra = {"concept": concept} if concept is not None else {}
    rows = ({"id": i, "label": labels[i], **({"path": names[i]} if names is not None else {}), **extra,
             **(who.get(i, {}) if who is not None else {})}
            for i in sorted(labels))
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def insights(state: SessionState, probs: np.ndarray, history: Sequence[TrainPoint],
             available: np.ndarray | None = None, quality: QualityEstimates | None = None,
             goal: str = "train") -> dict[str, Any]:
    """Effort figures, quality estimates (over the items `available`, default all; `quality` when
    they were measured already, at the retrain that made `probs`) and the stopping signal of the
    goal: for "find", positives found against those estimated in the pool."""
    if quality is None:
        quality = quality_estimates(state, probs, available=available)
    out: dict[str, Any] = {"effort": effort_stats(state), "estimates": quality.to_dict(), "goal": goal}
    if goal == "find":
        progress = find_progress(state.n_positive, quality)
        ready, message = find_stopping_signal(progress, page_hit_rates(state))
        out["find"] = progress.to_dict()
    else:
        ready, message = stopping_signal([p.flip_rate for p in history], quality)
    return {**out, "stop": {"ready": ready, "message": message}}


def predictions(state: SessionState, probs: np.ndarray, available: np.ndarray | None = None) -> dict[str, Any]:
    """A label for every item: the human's where given, else the head's at the threshold."""
    quality = quality_estimates(state, probs, available=available)
    labels, t = state.labels, quality.threshold
    items = [{"id": i, "label": labels[i] if i in labels else int(probs[i] >= t),
              "source": "human" if i in labels else "model", "prob_pos": round(float(probs[i]), 4)}
             for i in range(len(probs))]
    return {"concept": state.concept, "threshold": t, "estimates": quality.to_dict(), "counts": counts(state),
            "predicted_positive": sum(it["label"] for it in items), "items": items}


def last_trained(history: Sequence[TrainPoint]) -> TrainPoint | None:
    """The latest retrain that produced a head."""
    return next((p for p in reversed(history) if p.train_ms is not None), None)
