"""The benchmark suite: the time model, both goals with censoring, paired intervals, the smoke
run CI uses, and replay's dash for rates it cannot compute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastlabel.bench.goals import done, page_seconds, reachable, run_goals
from fastlabel.bench.paired import paired
from fastlabel.bench.goals import Reach
from fastlabel.bench.simulate import Point
from fastlabel.bench.suite import FULL, SMOKE, get_suite
from fastlabel.bench.timemodel import KEYBOARD, MOUSE
from fastlabel.cli import main
from fastlabel.errors import InvalidInput


def run(aucs: list[float], positives: list[int], page: int = 10, flips: int = 2) -> list[Point]:
    """Points of a made-up run: page k has `page` cards, `flips` of them wrong, plus its confirm click."""
    return [Point("t", "s", 0, k * page, k * (flips + 1), pos, auc, 0.5, 0.5)
            for k, (auc, pos) in enumerate(zip(aucs, positives))]


def test_time_model_counts_cards_flips_and_pages():
    points = run([0.5, 0.7, 0.9], [0, 3, 6])
    # after 2 pages: 20 cards, 4 flips (6 clicks minus 2 confirms), 2 pages
    assert page_seconds(points, MOUSE)[-1] == pytest.approx(20 * 1.0 + 4 * 1.3 + 2 * 3.0)
    assert page_seconds(points, KEYBOARD)[-1] == pytest.approx(20 * 2.0 + 4 * 0.3 + 2 * 1.7)
    assert page_seconds(points, MOUSE)[0] == 0


def test_goals_first_page_that_meets_a_target_and_censoring():
    points = run([0.5, 0.82, 0.86, 0.90], [0, 4, 9, 10])
    figures = run_goals(points, reference_auc=0.9, pool_positives=10, budget=30, task="t").figures
    assert figures["auc90_labels"] == Reach(10.0, True)  # 0.82 >= 0.9 * 0.9
    assert figures["auc95_labels"] == Reach(20.0, True)  # 0.86 >= 0.855
    assert figures["auc95_clicks"] == Reach(6.0, True)
    assert figures["find50_labels"] == Reach(20.0, True)  # 5 of 10 positives first held after page 2
    assert figures["find95_labels"] == Reach(30.0, True)  # all 10 held after page 3
    slow = run([0.5, 0.6], [0, 1])
    censored = run_goals(slow, 0.9, 10, 30, "t").figures
    assert censored["auc95_labels"] == Reach(10.0, False)  # the budget-end value, marked
    # 95% of 100 positives cannot fit in 30 labels: that target is left out
    assert "find95_labels" not in run_goals(points, 0.9, 100, 30, "t").figures
    assert not reachable(0.5, 100, 30) and reachable(0.5, 10, 30)


def test_a_run_is_done_once_every_reachable_target_is_met():
    assert not done(run([0.5, 0.9], [0, 9]), 0.9, pool_positives=10, budget=30)  # positives short of 95%
    assert done(run([0.5, 0.9], [0, 10]), 0.9, pool_positives=10, budget=30)
    assert done(run([0.5, 0.6], [0, 10]), 0.9, pool_positives=10, budget=30, train=False)  # find goal only
    assert not done(run([0.5, 0.9], [0, 9]), 0.9, pool_positives=10, budget=30, train=False)
    assert done(run([0.5, 0.9], [0, 1]), 0.9, pool_positives=1000, budget=30)  # no find target fits
    assert not done(run([0.5, 0.8], [0, 10]), 0.9, pool_positives=10, budget=30)  # AUC short of 95%
    assert done(run([0.5, 0.9], [0, 4]), 0.9, pool_positives=10, budget=30, find=False)  # random: AUC only


def test_random_find_expectation_is_exact_in_labels_and_a_lower_bound_in_seconds():
    from fastlabel.bench.goals import expected_random_find, expected_random_labels

    # the k-th of P positives among N items is expected at k (N + 1) / (P + 1)
    assert expected_random_labels(0.8, pool_positives=100, pool_size=2000) == pytest.approx(80 * 2001 / 101)
    points = run([0.5, 0.9], [0, 1], page=48, flips=5)  # one page, 5 flips, stopped at the AUC target
    labels, secs = expected_random_find(points, 0.8, 100, 2000, 48, MOUSE)
    assert secs == pytest.approx(labels * 1.0 + 5 * 1.3 + labels / 48 * 3.0)  # no flips past its run


def test_paired_interval_per_seed():
    rng = np.random.default_rng(0)
    base = rng.uniform(100, 200, size=10)
    same = paired([Reach(v, True) for v in base + rng.normal(0, 5, 10)], [Reach(v, True) for v in base])
    assert same.n == 10 and same.low < 0 < same.high and same.verdict == "tie"
    half = paired([Reach(v / 2, True) for v in base], [Reach(v, True) for v in base])
    assert half.verdict == "better" and half.ratio == pytest.approx(0.5) and half.high < 0
    worse = paired([Reach(v + 30 + k, True) for k, v in enumerate(base)], [Reach(v, False) for v in base])
    assert worse.verdict == "worse" and worse.censored_random == 10 and worse.censored_strategy == 0
    assert paired([Reach(1.0, True)], [Reach(2.0, True)]).verdict == "n/a"  # one seed: no interval
    assert paired([None], [Reach(2.0, True)]) is None


def test_suites_tune_on_at_most_half_and_report_on_held_out_seeds():
    tuned = [t for t in FULL.tasks if t.tuned]
    assert 0 < len(tuned) <= len(FULL.tasks) / 2
    assert not set(FULL.tune_seeds) & set(FULL.report_seeds) and len(FULL.report_seeds) >= 10
    assert {t.attribute for t in FULL.tasks} >= {"Smiling", "Male", "Eyeglasses", "Wearing_Hat", "Gray_Hair",
                                                  "Goatee"}
    assert any(t.data == "demo" for t in FULL.tasks)
    assert get_suite("full", seeds=3).report_seeds == (0, 1, 2)
    assert get_suite("full", strategies=["kmeans"]).strategies == ("random", "kmeans")
    assert FULL.find_goal and not get_suite("full", auc_only=True).find_goal
    with pytest.raises(InvalidInput):
        get_suite("nope")


@pytest.fixture(scope="module")
def smoke_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one-seed smoke suite CI runs: demo faces, pixels, a tiny budget."""
    home, out = tmp_path_factory.mktemp("suite-home"), tmp_path_factory.mktemp("suite-out")
    assert main(["bench", "--suite", "smoke", "--encoder", "pixels", "--home", str(home), "--out", str(out),
                 "--quiet"]) == 0
    return out / "report"


def test_smoke_suite_writes_tables_intervals_and_plots(smoke_out: Path):
    for name in ("points.csv", "facts.json", "summary.md", "auc_vs_seconds.png", "found_vs_seconds.png"):
        assert (smoke_out / name).stat().st_size > 0
    facts = json.loads((smoke_out / "facts.json").read_text())
    assert {f["task"] for f in facts["facts"]} == {t.name for t in SMOKE.tasks}
    assert all(0.5 <= f["reference_auc"] <= 1 and f["budget"] == 72 for f in facts["facts"])
    text = (smoke_out / "summary.md").read_text()
    assert "seeds 0" in text and "Tuning used the tasks demo/Smiling on seeds 100" in text
    assert "| random |" in text and "| hunt_refine |" in text and "s → 95% (mouse)" in text
    assert "strategy − random" in text and "against random" in text.lower()


def test_bench_suite_rejects_an_unknown_suite(capsys):
    assert main(["bench", "--suite", "nope", "--encoder", "pixels"]) == 2
    assert "unknown suite" in capsys.readouterr().err


def test_replay_prints_a_dash_for_rates_it_cannot_compute():
    from fastlabel.replay import insight_lines

    effort = {"labels": 24, "minutes": 0.0, "labels_per_min": None, "sec_per_label": None,
              "clicks_per_label": None, "positives_per_min": None}
    insights = {"effort": {"overall": effort},
                "estimates": {"hidden_positives": None, "precision": None},
                "stop": {"ready": False, "message": "keep labeling"}}
    line = insight_lines(insights)[0]
    assert "None" not in line and "labels/min -" in line and "clicks/label -" in line
