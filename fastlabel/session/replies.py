"""What the session's commands answer: a page, a submission's result, an undo's result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..events import BatchServed
from .training import TrainPoint


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
    prelabel: int | None = None  # the strategy's cards start with this label instead of the model's guess
    starts: list[int] | None = None  # per card, the label it is shown with (pages.start_labels); None: the model's guess
    audit: list[int] | None = None  # the audit cards among `ids`
    overlap: list[int] | None = None  # cards someone else labeled, among `ids`: the agreement sample


@dataclass(frozen=True)
class Submitted:
    seq: int  # the labels_submitted event
    point: TrainPoint  # the retrain that covered it (shared when retrains were coalesced); queued: the newest, which does not
    repeated: bool = False  # its request id was seen before: answered, not applied again
    warning: str | None = None  # saved, but a later step (the retrain) failed
    queued: bool = False  # not waited for (others labeling, or a retrain running): the next retrain covers it


@dataclass(frozen=True)
class Undone:
    labels: tuple[tuple[int, int], ...]  # the labels taken back
    page: BatchServed | None  # the page they were given on
    point: TrainPoint  # the retrain that followed
    repeated: bool = False
    warning: str | None = None
    queued: bool = False
