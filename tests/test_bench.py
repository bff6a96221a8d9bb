"""The labeling benchmark: splits, the effort model, the simulated loop and its files, replay --against."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from fastlabel.bench.clicks import first_reaching, model_guess, page_clicks, wrong_cards
from fastlabel.bench.simulate import Run, Task, benchable_strategies, plan_runs, simulate
from fastlabel.bench.split import split_by_identity, split_random
from fastlabel.cli import main
from fastlabel.events import EventLog
from fastlabel.session import LabelingSession

BENCH_FLAGS = ["--encoder", "pixels", "--seeds", "2", "--budget", "96", "--batch-size", "24"]


@pytest.fixture(scope="module")
def demo_flags(demo_dir: Path, new_home) -> list[str]:
    """Data flags for the demo faces, with a home whose cache already holds their pixel embeddings."""
    home = new_home("bench-home")
    return ["--sprite", str(demo_dir / "sprite.png"), "--grid", "30x20",
            "--attributes", str(demo_dir / "attributes.csv"), "--home", str(home)]


@pytest.fixture(scope="module")
def bench_out(demo_flags: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bench-out")
    assert main(["bench", *demo_flags, *BENCH_FLAGS, "--attribute", "Smiling", "--out", str(out), "--quiet"]) == 0
    return out


def read_points(out: Path) -> list[dict[str, str]]:
    with open(out / "points.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_identity_split_keeps_people_on_one_side():
    identities = np.random.default_rng(0).integers(0, 300, size=2_000)
    split = split_by_identity(identities, 0.2, seed=4)
    train_people, test_people = set(identities[split.train]), set(identities[split.test])
    assert not train_people & test_people
    assert np.array_equal(np.sort(np.concatenate([split.train, split.test])), np.arange(2_000))
    assert len(test_people) == round(0.2 * len(set(identities)))
    again = split_by_identity(identities, 0.2, seed=4)
    assert np.array_equal(again.test, split.test)
    assert not np.array_equal(split_by_identity(identities, 0.2, seed=5).test, split.test)


def test_random_split_without_identities():
    split = split_random(100, 0.2, seed=0)
    assert split.test.size == 20 and not set(split.train) & set(split.test)


def test_clicks_are_wrong_prelabels_plus_one_submit():
    # the model's guess, shown as positive when prob >= 0.5: 1, 1, 1, 0, 0
    starts = model_guess([0.9, 0.6, 0.5, 0.4, 0.1])
    assert starts == [1, 1, 1, 0, 0]
    truth = [1, 0, 0, 0, 1]  # wrong: cards 2, 3 and 5
    assert wrong_cards(starts, truth) == 3
    assert page_clicks(starts, truth) == 4
    assert page_clicks([1, 0], [1, 0]) == 1  # a perfect page still costs the submit
    assert first_reaching([0.5, 0.7, 0.9, 0.95], 0.9) == 2
    assert first_reaching([0.5, 0.6], 0.9) is None


def test_zero_shot_rows_only_with_a_text_side():
    runs, notes = plan_runs(["random", "hybrid"], "Smiling", has_text=False)
    assert [r.name for r in runs] == ["random", "hybrid"] and "no text side" in notes[0]
    runs, notes = plan_runs(["random", "hybrid"], "Smiling", has_text=True)
    assert {r.name for r in runs} == {"random", "hybrid", "zeroshot", "hybrid+text"} and not notes
    assert all(r.query for r in runs if r.name in ("zeroshot", "hybrid+text"))
    assert "audit" not in benchable_strategies("all") and "hybrid" in benchable_strategies("all")


def test_simulated_run_uses_the_session_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    task = Task("axis", 0, x[:240], y[:240], x[240:], y[240:])
    points = simulate(task, Run("borderline", "borderline"), budget=50, batch_size=24)
    assert [p.labels for p in points] == [0, 24, 48, 50]  # the last page shrinks to the budget
    assert points[-1].auc > 0.8 and points[-1].clicks >= 3  # at least one submit per page


def test_bench_writes_its_files(bench_out: Path):
    for name in ("points.csv", "summary.json", "summary.md", "auc_vs_labels.png", "auc_vs_clicks.png"):
        assert (bench_out / name).stat().st_size > 0
    summary = json.loads((bench_out / "summary.json").read_text())
    assert "random" in summary["results"]["Smiling"] and "hybrid" in summary["results"]["Smiling"]
    table = (bench_out / "summary.md").read_text()
    assert "| random |" in table and "clicks → 95%" in table and "no text side" in table
    assert "human s → 95%" in table and "labels → 80% of positives" in table
    random = summary["results"]["Smiling"]["random"]
    assert random["seconds_to_95"]["total"] == 2
    assert random["seconds_to_find80"]["total"] == 0  # half the faces smile: 80% of them is beyond 96 labels
    assert "| – |" in table


def test_the_plain_bench_reports_the_suites_human_seconds_and_positives_found():
    from fastlabel.bench.report import run_figures
    from fastlabel.bench.simulate import Point

    def point(labels: int, clicks: int, positives: int, auc: float) -> Point:
        return Point("a", "s", 0, labels, clicks, positives, auc, 0.5, 0.5)

    points = [point(0, 0, 0, 0.5), point(24, 5, 5, 0.8), point(48, 9, 8, 0.96)]
    figures = run_figures(points, reference_auc=1.0, marks=[24], pool_positives=10, budget=48)
    # the mouse model: 1 s a card, 1.3 s a flip (clicks less the 2 confirms), 3 s a page
    assert figures.reached["auc95_labels"] == 48 and figures.reached["auc95_clicks"] == 9
    assert figures.reached["auc95_s_mouse"] == pytest.approx(48 + 1.3 * 7 + 3 * 2)
    assert figures.reached["find80_labels"] == 48 and figures.reached["find50_labels"] == 24
    assert figures.reached["find95_labels"] is None  # 8 of 10 found: not within the budget
    late = run_figures(points[:2], reference_auc=1.0, marks=[24], pool_positives=40, budget=24)
    assert late.reached["auc95_labels"] is None
    assert "find80_labels" not in late.reached  # 32 positives cannot fit in 24 labels


def test_bench_points_are_sane(bench_out: Path):
    rows = read_points(bench_out)
    runs: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        assert 0.0 <= float(row["auc"]) <= 1.0 and 0.0 <= float(row["ap"]) <= 1.0
        assert 0.0 <= float(row["bal_acc"]) <= 1.0
        runs[(row["strategy"], row["seed"])].append(row)
    assert {seed for _, seed in runs} == {"0", "1"}
    assert {"random", "hybrid", "borderline", "kmeans"} <= {strategy for strategy, _ in runs}
    for run in runs.values():
        labels = [int(r["labels"]) for r in run]
        clicks = [int(r["clicks"]) for r in run]
        assert all(b > a for a, b in zip(labels, labels[1:])), labels
        assert all(b > a for a, b in zip(clicks, clicks[1:]))  # every page costs at least its submit
        assert labels[-1] == 96


def test_replay_against_prints_a_row_per_strategy(demo_flags, tmp_path, capsys, monkeypatch):
    from fastlabel.bench.command import ground_truth
    from fastlabel.cli import build_parser, config_from_args
    from fastlabel.workspace import open_pool

    args = build_parser().parse_args(["replay", "x.jsonl", *demo_flags, "--encoder", "pixels"])
    pool = open_pool(config_from_args(args))
    truth = ground_truth(pool, ["Smiling"])["Smiling"]
    journal = tmp_path / "session.jsonl"
    session = LabelingSession(pool.embeddings, EventLog.open(journal), data_id=pool.source.fingerprint())
    for _ in range(3):
        batch = session.next_batch("random", 24)
        session.submit([(i, int(truth[i])) for i in batch.ids], batch_id=batch.batch_id)
    session.log.close()

    assert main(["replay", str(journal), *demo_flags, "--encoder", "pixels", "--against", "kmeans,random,hybrid",
                 "--attribute", "Smiling", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "72 labels in pages of 24" in out
    for row in ("| recorded |", "| kmeans |", "| random |", "| hybrid |"):
        assert row in out
    assert main(["replay", str(journal), *demo_flags, "--encoder", "pixels"]) == 0  # the plain summary still works
    assert "labels: 72" in capsys.readouterr().out


def test_hybrid_starts_diverse_then_hunts_rare_positives():
    from fastlabel.learner.base import Pool
    from fastlabel.learner.diversity import choose_spread
    from fastlabel.learner.index import EmbeddingIndex
    from fastlabel.learner.registry import select

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(400, 16)).astype(np.float32)
    index = EmbeddingIndex(emb).start()

    def cold() -> Pool:
        return Pool(emb, np.full(400, 0.5, np.float32), np.zeros(400, bool), {}, np.random.default_rng(0), index=index)

    assert set(select("hybrid", cold(), 24).ids) == set(choose_spread(cold(), 24))  # no head yet: the spread page

    probs = rng.uniform(size=400).astype(np.float32)
    labeled = np.zeros(400, bool)
    labeled[:40] = True
    rare = Pool(emb, probs, labeled, {i: int(i < 2) for i in range(40)}, np.random.default_rng(0), has_head=True,
                index=index)
    ids = select("hybrid", rare, 24).ids
    top = set(rare.unlabeled[np.argsort(-probs[rare.unlabeled])[:6]])
    assert len(ids) == 24 and top <= set(ids)  # a quarter of the page: the likeliest positives
