"""The labeled gallery, pure: labeled items newest first, filtered by what their label is or how it came."""

from __future__ import annotations

from dataclasses import dataclass

from ..events import SessionState

FILTERS = ("all", "positive", "negative", "corrected")


@dataclass(frozen=True)
class LabeledItem:
    id: int
    label: int
    seq: int  # the submission or correction that gave the label now in effect
    corrected: bool  # a correction in effect changed it

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "seq": self.seq, "corrected": self.corrected}


def labeled_items(state: SessionState, which: str = "all") -> list[LabeledItem]:
    """Every labeled item passing `which` (one of FILTERS), the latest labeled first."""
    if which not in FILTERS:
        raise ValueError(f"unknown filter {which!r}")
    last, corrected = state.last_labeled(), state.corrected()
    rows = [LabeledItem(i, y, last.get(i, 0), i in corrected) for i, y in state.labels.items()]
    keep = {
        "all": lambda r: True,
        "positive": lambda r: r.label == 1,
        "negative": lambda r: r.label == 0,
        "corrected": lambda r: r.corrected,
    }[which]
    return sorted((r for r in rows if keep(r)), key=lambda r: (-r.seq, r.id))
