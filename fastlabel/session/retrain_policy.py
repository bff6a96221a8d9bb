"""When the head retrains: the coalescing policy.

Every label change asks for a retrain, but changes journaled while the head trains do not each
train again: the first of them to get the head trains once for all of them, and a retrain that
started after a change covers it. The model_trained event marks where a retrain ran, so a replay
retrains at the same points whatever the timing was live.
"""

from __future__ import annotations

import bisect
from typing import Sequence

from ..events import Retrain, SessionState


class CoalescedRetrains:
    """Retrain after every change, one retrain for all the changes that waited for the head."""

    name = "coalesced"

    @staticmethod
    def covering(retrains: Sequence[Retrain], seq: int) -> Retrain | None:
        """The first retrain recorded after event `seq` (it trained on that change), or None: one is due."""
        if not retrains or retrains[-1].seq < seq:
            return None
        return retrains[bisect.bisect_left([r.seq for r in retrains], seq)]

    @staticmethod
    def due_at_start(state: SessionState) -> bool:
        """The process stopped between a change and its retrain: train before serving."""
        last_retrain = state.retrains[-1].seq if state.retrains else 0
        return bool(state.history) and state.history[-1].seq > last_retrain
