"""Which label an item has when several labelers labeled it: the one label that trains the head, is
counted and is exported.

The policy, in order: an admin's resolution when there is one; otherwise the strict majority of the
labelers' labels; otherwise (a tie) the latest label given. With one labeler it is simply their
latest label, as before there were teams. Nobody is silently down-weighted: a labeler who agrees
little with the others is flagged in the agreement figures, and an admin decides.
"""

from __future__ import annotations

from typing import Mapping

Vote = tuple[int, int]  # (label, seq of the event that gave it)
POLICY = "resolved, else majority, else latest"


def label_in_effect(votes: Mapping[str, Vote], resolved: int | None = None) -> int | None:
    """The item's label under the policy; None when nobody labeled it and nothing was resolved."""
    if resolved is not None:
        return resolved
    if not votes:
        return None
    ones = sum(1 for label, _ in votes.values() if label == 1)
    zeros = len(votes) - ones
    if ones != zeros:
        return int(ones > zeros)
    return max(votes.values(), key=lambda vote: vote[1])[0]


def given_by(votes: Mapping[str, Vote], label: int | None) -> str | None:
    """Who gave the label in effect: the labeler whose latest label it is; None when no labeler gave it
    (an admin resolved it the other way from everyone)."""
    agreeing = [(seq, name) for name, (given, seq) in votes.items() if given == label]
    return max(agreeing)[1] if agreeing else None
