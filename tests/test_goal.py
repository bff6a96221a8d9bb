"""The user's goal: a replayable event, the find goal's headline (found / estimated in the pool) and its stop signal."""

from __future__ import annotations

import pytest

from fastlabel.errors import InvalidInput
from fastlabel.events import GoalSet, event_from_dict, fold
from fastlabel.events.records import SessionStarted
from fastlabel.learner.goals import GOALS, get_goal
from fastlabel.learner.registry import STRATEGIES
from fastlabel.session.estimates import Estimate, QualityEstimates, find_progress, find_stopping_signal


def test_goal_set_is_a_replayable_event():
    events = [SessionStarted(1, 0.0, seed=3), GoalSet(2, 1.0, goal="find"), GoalSet(3, 2.0, goal="train")]
    assert fold(events[:2]).goal == "find" and fold(events).goal == "train"
    assert fold(events[:1]).goal is None  # none stated: the configured default
    again = [event_from_dict(e.to_dict()) for e in events]
    assert fold(again) == fold(events)
    with pytest.raises(InvalidInput):
        event_from_dict({"type": "goal_set", "seq": 4, "ts": 0.0, "goal": "find; drop"})


def test_every_goal_names_a_registered_strategy():
    assert set(GOALS) == {"find", "train"}
    assert all(g.strategy in STRATEGIES for g in GOALS.values())
    with pytest.raises(InvalidInput, match="find, train"):
        get_goal("recall")


def quality(hidden: Estimate | None, precision: Estimate | None = None, n_pos: int = 0) -> QualityEstimates:
    return QualityEstimates(40, 5000, n_pos, hidden, precision)


def test_find_progress_adds_the_hidden_estimates_to_the_positives_found():
    assert find_progress(30, quality(None)).total is None
    est = find_progress(100, quality(Estimate(20.0, 5.0, 60.0, 6), Estimate(0.5, 0.2, 0.9, 6), n_pos=10))
    assert est.total == Estimate(125.0, 107.0, 169.0, 6)
    assert est.share == pytest.approx(100 / 125)


def test_find_stop_signal_needs_the_estimate_audit_pages_and_a_dry_search():
    done = find_progress(190, quality(Estimate(5.0, 0.0, 40.0, 6)))
    ready, message = find_stopping_signal(done, [0.0, 0.0])
    assert ready and "190 of about 195" in message
    assert not find_stopping_signal(done, [0.0, 0.02])[0]  # the search still finds positives
    assert find_stopping_signal(find_progress(190, quality(Estimate(0.0, 0.0, 0.0, 6))), [0.0, 0.3])[0]  # none left
    assert not find_stopping_signal(find_progress(100, quality(Estimate(50.0, 10.0, 90.0, 6))), [0.0, 0.0])[0]
    early = find_progress(20, quality(Estimate(0.0, 0.0, 900.0, 2)))
    assert not find_stopping_signal(early, [0.0, 0.0])[0]  # too few audited pages to say


def test_bench_goal_without_strategies_runs_that_goals_strategy_alone():
    from fastlabel.cli import build_parser
    from fastlabel.cli.commands import bench_strategies

    parse = build_parser().parse_args
    assert bench_strategies(parse(["bench", "--goal", "find"])) == ["active_search"]
    assert bench_strategies(parse(["bench", "--goal", "train"])) == ["hunt_refine"]
    assert bench_strategies(parse(["bench", "--goal", "find", "--strategies", "random"])) == ["random"]
    assert bench_strategies(parse(["bench"])) is None  # every strategy, or the suite's own
    assert parse(["serve", "--goal", "find"]).goal == "find"


def test_session_goal_is_a_command_replayed_from_the_log():
    import numpy as np

    from fastlabel.session import LabelingSession

    emb = np.random.default_rng(0).normal(size=(120, 8)).astype(np.float32)
    session = LabelingSession(emb, seed=1, goal="train")
    assert session.goal.name == "train" and "find" not in session.insights()
    assert session.set_goal("find").strategy == "active_search"
    session.set_goal("find")  # unchanged: nothing recorded
    assert [e.type for e in session.log.events].count("goal_set") == 1
    view = session.insights()
    assert view["goal"] == "find" and view["find"]["found"] == 0 and not view["stop"]["ready"]
    with pytest.raises(InvalidInput):
        session.set_goal("everything")
    again = LabelingSession.replay(session.log.events, emb)
    assert again.goal.name == "find"
