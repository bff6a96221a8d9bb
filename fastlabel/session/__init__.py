"""The labeling session: commands in, events journaled, effects (retrain, push) following them.

- `session.py`: construction and the label commands (submit, correct, undo, resolve, query, goal);
- `page_commands.py`: the next page (any kind of the catalog) and the review page, chosen off the lock;
- `queries.py`: what the session answers without changing anything;
- `engine.py`: the one event -> effect path (fold, follow), live and in replay, and the locks;
- `retrain_policy.py`: when the head retrains (coalesced);
- `followers.py`: what hears about a retrain (the push), on one thread, from a message;
- `replies.py`: what the commands answer (a page, a submission, an undo);
- `training.py`: which labels train the head, and the trainer;
- `pages.py`: page composition (strategy picks, audit cards, order), pure;
- `review.py`: review pages from out-of-fold predictions of the labeled items;
- `views.py`, `effort.py`, `estimates.py`: counts, effort, audit estimates, predictions and
  exports, pure functions of state;
- `snapshots.py`: head snapshots that bound replay time.
"""

from .followers import Follower, Retrained
from .replies import Batch, Submitted, TextEncoder, Undone
from .session import LabelingSession
from .training import TrainPoint

__all__ = ["Batch", "Follower", "LabelingSession", "Retrained", "Submitted", "TextEncoder", "TrainPoint", "Undone"]
