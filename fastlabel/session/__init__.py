"""The labeling session: commands in, events journaled, effects (retrain, push) following them.

- `session.py`: the commands and the one event -> effect path, live and in replay;
- `training.py`: which labels train the head, and the trainer;
- `pages.py`: page composition (strategy picks, audit cards, order), pure;
- `views.py`: counts, insights, predictions and exports, pure functions of state.
"""

from .session import Batch, LabelingSession, Submitted, TextEncoder, Undone
from .training import TrainPoint

__all__ = ["Batch", "LabelingSession", "Submitted", "TextEncoder", "TrainPoint", "Undone"]
