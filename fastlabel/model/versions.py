"""Every retrain is a model version: list them, and turn one into a model file.

A version is a `model_trained` event whose training labels held both classes. The latest one
is read from the running session; any earlier one is rebuilt by replaying the journal up to
that event (training is seeded by the session seed and the event's sequence number, so the
replay gives the same weights).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import orjson

from ..version import __version__
from ..embeddings.base import Encoder
from ..errors import InvalidInput, NotReady
from ..events import Event, ModelTrained, SessionStarted, SessionState, apply, fold
from ..learner.zeroshot import prior_weight
from ..session import LabelingSession
from ..session.estimates import quality_estimates
from ..threshold import THRESHOLD
from .artifact import FORMAT, FORMAT_VERSION, HEAD_KEYS, PRIOR_KEY
from .classifier import Classifier, Prior, head_from_tensors
from ..workspace import item_space
from .encoders import encoder_spec, media_spec


def session_id(events: Sequence[Event]) -> str:
    """A stable id for a session: a digest of its session_started event (seed, data, encoder, start time)."""
    first = next((e for e in events if isinstance(e, SessionStarted)), None)
    raw = orjson.dumps(first.to_dict(), option=orjson.OPT_SORT_KEYS) if first else b""
    return hashlib.sha256(raw).hexdigest()[:16]


def trainable(state: SessionState) -> tuple[int, int]:
    """(labels, positives) the head trains on: every label in effect except audit cards."""
    train = [y for i, y in state.labels.items() if i not in state.audit_ids]
    return len(train), sum(train)


@dataclass(frozen=True)
class Version:
    seq: int
    ts: float
    labels: int
    positives: int
    trained_on: int
    has_head: bool

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "ts": self.ts, "labels": self.labels, "positives": self.positives,
                "trained_on": self.trained_on, "has_head": self.has_head}


def model_versions(events: Iterable[Event]) -> list[Version]:
    """One entry per model_trained event, oldest first, from the events alone (no training)."""
    state, out = SessionState(), []
    for event in events:
        state = apply(state, event)
        if isinstance(event, ModelTrained):
            n, pos = trainable(state)
            out.append(Version(event.seq, event.ts, len(state.labels), state.n_positive, n, 0 < pos < n))
    return out


def state_at(events: Iterable[Event], seq: int) -> SessionState:
    return fold(e for e in events if e.seq <= seq)


def prefix_through(events: Sequence[Event], seq: int) -> list[Event]:
    """The events up to and including the model_trained event `seq`; InvalidInput names the versions."""
    versions = [v for v in model_versions(events) if v.has_head]
    match = next((v for v in versions if v.seq == seq), None)
    if match is None:
        known = ", ".join(str(v.seq) for v in versions[-12:]) or "none yet"
        raise InvalidInput(f"no model version at event {seq}; versions (model_trained events with both classes): {known}")
    return [e for e in events if e.seq <= seq]


@dataclass(frozen=True)
class ModelExport:
    """A model version ready to write: tensors and metadata (see artifact.py)."""

    tensors: dict[str, np.ndarray]
    metadata: dict[str, Any]

    def classifier(self, encoder: Encoder | None = None) -> Classifier:
        prior = None
        if self.metadata.get("prior") is not None:
            p = self.metadata["prior"]
            prior = Prior(self.tensors[PRIOR_KEY], p["logit_scale"], p["center"], p["weight"])
        return Classifier(head_from_tensors(self.tensors), self.metadata, prior, encoder=encoder)


def snapshot(session: LabelingSession, encoder: Encoder, *, events: Sequence[Event] | None = None,
             media: dict[str, Any] | None = None) -> ModelExport:
    """The model of `session` at its last retrain. The caller makes sure no retrain runs meanwhile
    (a replayed session, or the live one under its training lock). `media` (encoders.media_spec)
    says what its items were: for recordings, the sample rate, window and hop new audio is cut to."""
    retrains = session.state.retrains
    if not retrains:
        raise NotReady("no model yet: label a page with at least one positive and one negative")
    seq = retrains[-1].seq
    head = session.trainer.learner.state_dict()
    if not head:
        raise NotReady(f"no model at event {seq}: the training labels hold only one class so far; "
                       "label at least one positive and one negative")
    events = list(session.log.events if events is None else events)
    state = state_at(events, seq)
    tensors = {k: head[k.removeprefix("head.")].detach().cpu().numpy().astype(np.float32) for k in HEAD_KEYS}
    x = session.embeddings
    prior_meta = None
    if state.query_embedding is not None:
        text = np.asarray(state.query_embedding, np.float32)
        tensors[PRIOR_KEY] = text
        if state.query_type == "class":  # the classifier's own logit, x . w + b: scale 1, centred on -b
            scale, center = 1.0, -float(state.query_bias)
        else:
            scale, center = float(state.query_logit_scale), float((x @ text).mean())
        prior_meta = {"query": state.query, "query_type": state.query_type, "logit_scale": scale, "center": center,
                      "weight": prior_weight(len(state.labels))}
    n_train, pos_train = trainable(state)
    meta: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fastlabel_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "concept": state.concept, "threshold": THRESHOLD,
        "encoder": encoder_spec(encoder, int(x.shape[1])),
        "head": {"architecture": "mlp", "layers": [int(x.shape[1]), int(tensors[HEAD_KEYS[0]].shape[0]), 1],
                 "activation": "relu", "output": "sigmoid"},
        "prior": prior_meta,
        **({"media": media} if media is not None else {}),
        "training": {"labels": len(state.labels), "positives": state.n_positive, "negatives": state.n_negative,
                     "trained_on": n_train, "trained_positives": pos_train, "audit_held_out": len(state.labels) - n_train,
                     "pool_size": int(x.shape[0])},
        "session": {"id": session_id(events), "seq": seq, "seed": state.seed, "data": state.data,
                    "encoder": state.encoder},
        "estimates": None,
    }
    export = ModelExport(tensors, meta)
    probs = export.classifier().scores(x)  # the version's own probabilities on its pool
    meta["estimates"] = quality_estimates(state, probs).to_dict()
    return export


def replayed_snapshot(events: Sequence[Event], seq: int, embeddings: np.ndarray, encoder: Encoder, *,
                      media: dict[str, Any] | None = None, **session_kwargs: Any) -> ModelExport:
    """The model of version `seq`, rebuilt by replaying the events up to it."""
    prefix = prefix_through(events, seq)
    session = LabelingSession.replay(prefix, embeddings, **session_kwargs)
    return snapshot(session, encoder, events=prefix, media=media)


def latest_version(events: Sequence[Event]) -> int:
    """The newest model_trained event that produced a head; NotReady when there is none yet."""
    versions = [v for v in model_versions(events) if v.has_head]
    if not versions:
        raise NotReady("no model yet: confirm a page with at least one positive and one negative")
    return versions[-1].seq


def source_args(source: Any) -> dict[str, Any]:
    """What an export says of the pool its session ran on: the data's fingerprint, its media (rate,
    window and hop for recordings) and which ids it serves."""
    return {"data_id": source.fingerprint(), "media": media_spec(source), **item_space(source)}


def export_version(session: LabelingSession, encoder: Encoder, seq: int | None = None, *,
                   media: dict[str, Any] | None = None, **session_kwargs: Any) -> ModelExport:
    """Version `seq` (default: the latest with a head) of a running or replayed session: the current
    one is copied from the session while no retrain can swap it, an earlier one is rebuilt by replay."""
    if seq is None:
        seq = latest_version(session.log.events)
    with session.head_lock:  # the head must not change while it is copied
        latest = session.state.retrains[-1].seq if session.state.retrains else None
        if seq == latest:
            return snapshot(session, encoder, events=session.log.events, media=media)
    return replayed_snapshot(session.log.events, seq, session.embeddings, encoder, media=media, **session_kwargs)
