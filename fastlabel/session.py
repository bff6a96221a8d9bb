"""The labeling session: events in, state out, and the head retrained as a side effect.

Every change goes through the event log: the session records an event, folds it into
state with the pure reducer, then runs its effects (zero-shot scores for a query, a
retrain at each model_trained event, which follows label changes, coalescing those that
arrive while the head trains). Rebuilding a session is replaying its events, so a journal
or an exported JSONL comes back to the same labels and, seeded, the same model.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol, Sequence

import numpy as np
import orjson
import torch

from .effort import effort_stats
from .errors import InvalidInput, NothingToUndo, NoTextSide, UnknownItem
from .events import (
    BatchServed,
    Event,
    EventLog,
    LabelsSubmitted,
    ModelTrained,
    QuerySet,
    SessionStarted,
    SessionState,
    SubmissionUndone,
    apply,
)
from .estimates import quality_estimates, stopping_signal
from .learner.head import HeadConfig, Learner, warm_up
from .learner.audit import MENU_ENTRY, compose_page
from .learner.base import Pool
from .learner.index import EmbeddingIndex
from .learner.registry import menu
from .learner.zeroshot import blend, zero_shot_probs

MAX_QUERY_CHARS = 500


class TextEncoder(Protocol):
    has_text: bool
    logit_scale: float

    def encode_text(self, text: str) -> np.ndarray: ...


@dataclass(frozen=True)
class Batch:
    batch_id: int | None
    ids: list[int]
    probs: list[float]
    batch_type: str
    strategy: str
    exhausted: bool = False
    message: str | None = None
    prelabel: int | None = None  # cards start with this label instead of the model's guess


@dataclass(frozen=True)
class TrainPoint:
    """One retrain, for the learning trend and the submit response."""

    seq: int
    labeled: int
    positive: int
    train_ms: float | None
    flip_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"labeled": self.labeled, "positive": self.positive, "train_ms": self.train_ms,
                "flip_rate": self.flip_rate, "seq": self.seq}


@dataclass(frozen=True)
class Submitted:
    seq: int  # the LabelsSubmitted event
    point: TrainPoint  # the retrain that covered it (shared when retrains were coalesced)


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


def labels_jsonl(labels: Mapping[int, int], names: Sequence[str] | None = None) -> bytes:
    """One {"id", "label"} per line (plus "path" when the data has file names), in id order."""
    rows = ({"id": i, "label": labels[i], **({"path": names[i]} if names is not None else {})} for i in sorted(labels))
    return b"".join(orjson.dumps(row) + b"\n" for row in rows)


def training_seed(seed: int, seq: int) -> int:
    return (seed * 1_000_003 + seq) % (2**31 - 1)


@dataclass
class _Model:
    prior: np.ndarray | None = None
    head: np.ndarray | None = None
    probs: np.ndarray = field(default_factory=lambda: np.empty(0, np.float32))


class LabelingSession:
    """One labeling session over one pool of embeddings. Thread-safe: changes are serialised."""

    def __init__(
        self,
        embeddings: np.ndarray,
        log: EventLog | None = None,
        *,
        text_encoder: TextEncoder | None = None,
        head_config: HeadConfig | None = None,
        seed: int = 0,
        data_id: str = "",
        encoder_id: str = "",
        device: torch.device | None = None,
        audit_per_page: int = 2,
        index: EmbeddingIndex | None = None,
    ) -> None:
        self.audit_per_page = audit_per_page
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        self.n_items = int(self.embeddings.shape[0])
        self.text_encoder = text_encoder
        self.learner = Learner(self.embeddings, head_config, device)
        warm_up(self.learner.device)
        self.log = log if log is not None else EventLog()
        self.state = SessionState()
        self.model = _Model(probs=np.full(self.n_items, 0.5, np.float32))
        self.trend: list[TrainPoint] = []
        self.index = index or EmbeddingIndex(self.embeddings)  # clustering + neighbours: started by the first page
        self._lock = threading.RLock()  # the log and the state: held briefly
        self._train_lock = threading.Lock()  # the head: held while training
        self._model_lock = threading.Lock()  # swapping in new probabilities
        self._trained_through = 0  # sequence number of the last ModelTrained event
        with self._lock:
            for event in self.log:
                self._fold(event)
            if not self.log.events:
                self._record(SessionStarted, seed=seed, n_items=self.n_items, data=data_id, encoder=encoder_id)
            self._check_matches(data_id, encoder_id)
        if self._untrained_changes():  # the process stopped between a submission and its retrain
            self._train_through(self.state.last_seq)

    # -- replay -------------------------------------------------------------------------------
    @classmethod
    def replay(cls, events: Iterable[Event], embeddings: np.ndarray, **kwargs: Any) -> "LabelingSession":
        """Rebuild a session from its events (no journal is written)."""
        return cls(embeddings, EventLog(events), **kwargs)

    def _check_matches(self, data_id: str, encoder_id: str) -> None:
        st = self.state
        if st.n_items != self.n_items:
            raise InvalidInput(f"this session was recorded on {st.n_items} items, but the data has {self.n_items}")
        if data_id and st.data and st.data != data_id:
            raise InvalidInput("this session was recorded on other data (fingerprints differ); "
                               "start a new session file or point at the original data")

    # -- the event loop -----------------------------------------------------------------------
    def _record(self, kind: type[Event], **payload: Any) -> tuple[Event, TrainPoint | None]:
        event = self.log.append(kind, **payload)
        return event, self._fold(event)

    def _fold(self, event: Event) -> TrainPoint | None:
        """Apply an event to state, then run its effects."""
        self.state = apply(self.state, event)
        if isinstance(event, QuerySet):
            prior = zero_shot_probs(self.embeddings, np.asarray(event.embedding, np.float32), event.logit_scale)
            self._publish(prior=prior)
        elif isinstance(event, ModelTrained):
            self._trained_through = event.seq
            return self._retrain(event.seq, self.state)
        return None

    def _untrained_changes(self) -> bool:
        return bool(self.state.history) and self.state.history[-1].seq > self._trained_through

    def _train_through(self, seq: int) -> TrainPoint:
        """Make sure the head has trained on every label change up to `seq`.

        Retrains are coalesced: submissions that arrive while the head trains wait, and the
        first of them to get the head trains once for all of them. The ModelTrained event is
        journaled where the training snapshot was taken, so a replay retrains at the same points.
        """
        with self._train_lock:
            if self._trained_through >= seq:
                return self.trend[-1]
            with self._lock:
                event = self.log.append(ModelTrained, n_labels=len(self.state.labels))
                self.state = apply(self.state, event)
                self._trained_through = event.seq
                snapshot = self.state
            return self._retrain(event.seq, snapshot)

    def _retrain(self, seq: int, state: SessionState) -> TrainPoint:
        audit = state.audit_ids  # held out so the estimates stay unbiased
        train = {i: y for i, y in state.labels.items() if i not in audit}
        ids = np.fromiter(train.keys(), dtype=np.int64, count=len(train))
        ys = np.fromiter(train.values(), dtype=np.int64, count=len(train))
        train_ms = None
        if ys.size and 0 < ys.sum() < ys.size:  # both classes seen: the head can learn
            report = self.learner.fit(ids, ys, training_seed(state.seed, seq))
            head = self.learner.predict()
            train_ms = round(report.train_ms, 2)
        else:
            self.learner.reset()
            head = None
        before, after = self._publish(head=head, n_labeled=len(state.labels))
        flips = float(np.mean((after >= 0.5) != (before >= 0.5))) if self.n_items else 0.0
        point = TrainPoint(seq, len(state.labels), state.n_positive, train_ms, round(flips, 5))
        self.trend.append(point)
        return point

    _KEEP = object()

    def _publish(self, *, head: Any = _KEEP, prior: Any = _KEEP, n_labeled: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Swap in new probabilities in one assignment, so readers never see a half update."""
        with self._model_lock:
            old = self.model
            head = old.head if head is self._KEEP else head
            prior = old.prior if prior is self._KEEP else prior
            n = len(self.state.labels) if n_labeled is None else n_labeled
            self.model = _Model(prior, head, blend(prior, head, n, self.n_items))
            return old.probs, self.model.probs

    # -- commands -----------------------------------------------------------------------------
    @property
    def has_text(self) -> bool:
        return bool(self.text_encoder is not None and self.text_encoder.has_text)

    def set_query(self, text: Any) -> str:
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("query must be a non-empty string")
        text = text.strip()
        if len(text) > MAX_QUERY_CHARS:
            raise InvalidInput(f"query is longer than {MAX_QUERY_CHARS} characters")
        if not self.has_text:
            raise NoTextSide("this encoder embeds images only, so zero-shot text queries are off; "
                             "start with --encoder clip to use them")
        assert self.text_encoder is not None
        emb = np.asarray(self.text_encoder.encode_text(text), dtype=np.float32)
        with self._lock:
            self._record(QuerySet, query=text, embedding=tuple(float(v) for v in emb),
                         logit_scale=float(self.text_encoder.logit_scale))
        return text

    def pool(self, exemplars: Sequence[int] = (), vectors: np.ndarray | None = None) -> Pool:
        labeled = np.zeros(self.n_items, dtype=bool)
        if self.state.labels:
            labeled[np.fromiter(self.state.labels.keys(), dtype=np.int64)] = True
        rng = np.random.default_rng([self.state.seed, self.state.last_seq])
        model = self.model
        return Pool(self.embeddings, model.probs, labeled, dict(self.state.labels), rng,
                    has_head=model.head is not None, has_prior=model.prior is not None, index=self.index,
                    exemplars=tuple(int(i) for i in exemplars), query_vectors=vectors)

    def next_batch(self, strategy: str, batch_size: int, *, exemplars: Sequence[int] = (),
                   vectors: np.ndarray | None = None) -> Batch:
        """Choose a page with `strategy` (plus a few audit cards) and record that it was served.

        `exemplars` (item ids) and `vectors` (embedded images) are what a "similar" page searches around.
        """
        self.index.start()  # no-op once started (the workspace starts it as soon as the embeddings exist)
        with self._lock:
            pool = self.pool(exemplars, vectors)
            page = compose_page(pool, strategy, batch_size, self.audit_per_page)
            sel, ids_arr, audit = page.selection, page.ids, page.audit
            if ids_arr.size == 0:
                return Batch(None, [], [], sel.batch_type, strategy, True,
                             sel.message or "Every item is labeled: export your labels, or undo to revise.")
            ids = [int(i) for i in ids_arr]
            probs = [round(float(p), 5) for p in pool.probs[ids_arr]]
            event, _ = self._record(BatchServed, strategy=strategy, batch_type=sel.batch_type, ids=tuple(ids),
                                    probs=tuple(probs), audit=tuple(sorted(int(a) for a in audit)),
                                    audit_pool=page.audit_pool)
        return Batch(event.seq, ids, probs, sel.batch_type, strategy, prelabel=sel.prelabel)

    def submit(self, labels: Sequence[tuple[int, int]], *, batch_id: int | None = None,
               page_ms: int | None = None, clicks: int | None = None) -> Submitted:
        """Record a confirmed page and retrain; `labels` must come from `parse_labels`."""
        with self._lock:
            if batch_id is not None and self.state.batch(batch_id) is None:
                raise InvalidInput(f"unknown batch_id {batch_id}")
            event, _ = self._record(LabelsSubmitted, labels=tuple(labels), batch_id=batch_id,
                                    page_ms=page_ms, clicks=clicks)
        return Submitted(event.seq, self._train_through(event.seq))

    def undo(self) -> tuple[tuple[tuple[int, int], ...], BatchServed | None]:
        """Take back the latest submission; returns its labels and the page they came from."""
        with self._lock:
            if not self.state.submissions:
                raise NothingToUndo("nothing to undo")
            last = self.state.submissions[-1]
            event, _ = self._record(SubmissionUndone, submission=last.seq)
            page = self.state.batch(last.batch_id) if last.batch_id is not None else None
        self._train_through(event.seq)
        return last.labels, page

    # -- queries ------------------------------------------------------------------------------
    @property
    def probs(self) -> np.ndarray:
        return self.model.probs

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """P(positive) for items outside the pool (a held-out test set), blended with the text prior
        as `probs` is; the prior is centred on these items' own mean similarity."""
        x = np.asarray(embeddings, dtype=np.float32)
        with self._train_lock:
            head = self.learner.score(x) if self.model.head is not None else None
            st = self.state
            prior = None
            if st.query_embedding is not None:
                prior = zero_shot_probs(x, np.asarray(st.query_embedding, np.float32), st.query_logit_scale)
            return blend(prior, head, len(st.labels), len(x))

    def counts(self) -> dict[str, int]:
        st = self.state
        return {"labeled": len(st.labels), "positive": st.n_positive, "negative": st.n_negative}

    def export_labels_jsonl(self, names: Sequence[str] | None = None) -> bytes:
        return labels_jsonl(self.state.labels, names)

    def export_events_jsonl(self) -> bytes:
        return self.log.to_jsonl()

    def insights(self) -> dict[str, Any]:
        """Effort figures, quality estimates and the stopping signal, all derived from the log."""
        quality = quality_estimates(self.state, self.probs)
        ready, message = stopping_signal([p.flip_rate for p in self.trend], quality)
        return {"effort": effort_stats(self.state), "estimates": quality.to_dict(),
                "stop": {"ready": ready, "message": message}}

    def predictions(self) -> dict[str, Any]:
        """A label for every item: the human's where given, else the head's at the threshold."""
        quality = quality_estimates(self.state, self.probs)
        labels, probs, t = self.state.labels, self.probs, quality.threshold
        items = [{"id": i, "label": labels[i] if i in labels else int(probs[i] >= t),
                  "source": "human" if i in labels else "model", "prob_pos": round(float(probs[i]), 4)}
                 for i in range(self.n_items)]
        return {"threshold": t, "estimates": quality.to_dict(), "counts": self.counts(),
                "predicted_positive": sum(it["label"] for it in items), "items": items}

    @staticmethod
    def strategy_menu() -> list[dict[str, str]]:
        return [*menu(), MENU_ENTRY]
