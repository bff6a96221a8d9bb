"""What the session answers without changing anything: probabilities, the trend, counts, exports
and the panel's figures. Read from the state and the published scores; no lock is needed for
them, except `score`, which reads the head while no retrain can swap it."""

from __future__ import annotations

import time
from threading import RLock
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..learner.goals import Goal, get_goal
from ..learner.registry import menu
from ..learner.zeroshot import query_probs
from . import views
from .agreement import agreement_report
from .effort import team_activity
from .training import TrainPoint

if TYPE_CHECKING:
    from ..events import EventLog, SessionState
    from .engine import Engine
    from .leases import Leases
    from .training import Trainer


class SessionQueries:
    """The read side of LabelingSession (session.py), which provides the attributes named here."""

    engine: Engine
    trainer: Trainer
    available: np.ndarray
    leases: Leases
    flag_below_kappa: float

    @property
    def state(self) -> SessionState:
        return self.engine.state

    @property
    def log(self) -> EventLog:
        return self.engine.log

    @property
    def head_lock(self) -> RLock:
        """Held while the head trains: hold it to read the head while no retrain can swap it."""
        return self.engine.head_lock

    @property
    def probs(self) -> np.ndarray:
        """Every item's probability under the newest head whose pass over the pool is done."""
        return self.trainer.scores.probs

    def settle(self) -> None:
        """Wait until `probs` covers the newest retrain and its followers have heard of it."""
        self.engine.settle()

    def history(self) -> list[TrainPoint]:
        """Every retrain in log order, from the model_trained events, with what was measured."""
        return self.engine.history()

    def score(self, embeddings: np.ndarray) -> np.ndarray:
        """P(positive) for items outside the pool (a held-out test set), blended with the text prior
        as `probs` is; the prior is centred on these items' own mean similarity."""
        x = np.asarray(embeddings, dtype=np.float32)
        with self.head_lock:
            st = self.state
            prior = None
            if st.query_embedding is not None:
                prior = query_probs(x, st.query_type, np.asarray(st.query_embedding, np.float32),
                                    st.query_logit_scale, st.query_bias)
            return self.trainer.score(x, prior, len(st.labels))

    def counts(self) -> dict[str, int]:
        return views.counts(self.state)

    def export_labels_jsonl(self, names: Sequence[str] | None = None) -> bytes:
        state = self.state
        return views.labels_jsonl(state.labels, names, state.concept, who=views.labeler_fields(state))

    def agreement(self) -> dict[str, Any]:
        """Agreement between the labelers of this concept, and its disagreement queue (agreement.py)."""
        state = self.state
        return agreement_report(state.votes, state.resolved, flag_below=self.flag_below_kappa)

    def team_activity(self) -> dict[str, Any]:
        """Labelers active now and their pages per minute (effort.team_activity), with the cards they hold."""
        return {**team_activity(self.state, time.time(), self.leases.holders()),
                "lapsed_submits": self.leases.lapsed_submits}

    def export_events_jsonl(self) -> bytes:
        return self.log.to_jsonl()

    @property
    def overlap_now(self) -> int:
        """Overlap cards per page on this concept: as an admin set it (an overlap_set event), else the default."""
        st = self.state.overlap_per_page
        return self.overlap_per_page if st is None else st

    @property
    def goal(self) -> Goal:
        """The goal in effect: the last one stated (a goal_set event), else the session's default."""
        return get_goal(self.engine.goal_in_effect(self.state))

    def insights(self, goal: str | None = None) -> dict[str, Any]:
        """Effort figures, quality estimates and the stopping signal of the goal in effect (or `goal`),
        all derived from the log."""
        return views.insights(self.state, self.probs, self.history(), self.available,
                              goal=get_goal(goal).name if goal else self.goal.name)

    def predictions(self) -> dict[str, Any]:
        return views.predictions(self.state, self.probs, self.available)

    @staticmethod
    def strategy_menu() -> list[dict[str, Any]]:
        """The page kinds of the strategy menu, from the catalog (learner/registry.py)."""
        return menu()
