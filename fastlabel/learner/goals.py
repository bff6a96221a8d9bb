"""What the user labels for: find every positive of a concept, or train a good classifier.

Each goal names the strategy the benchmark suite found best for it (benchmarks/RESULTS.md); the
CLI, the session, the page and the benchmark all read this one table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput


@dataclass(frozen=True)
class Goal:
    name: str
    title: str
    strategy: str  # the goal's default page policy


GOALS: dict[str, Goal] = {
    g.name: g
    for g in (
        Goal("find", "Find every positive", "active_search"),
        Goal("train", "Train a classifier", "hunt_refine"),
    )
}


def get_goal(name: str) -> Goal:
    try:
        return GOALS[name]
    except KeyError:
        raise InvalidInput(f"unknown goal {name!r}; choose one of: {', '.join(GOALS)}") from None


def goal_menu() -> list[dict[str, str]]:
    """The goals as the page's control lists them."""
    return [{"name": g.name, "title": g.title, "strategy": g.strategy} for g in GOALS.values()]
