"""A query by class name: the prior is the encoder's own classifier score, journaled so it replays
without the model, and carried into the exported model."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.errors import InvalidInput
from fastlabel.events import event_from_dict, parse_jsonl
from fastlabel.events.records import QuerySet
from fastlabel.model.versions import snapshot
from fastlabel.session import LabelingSession


class FakeClasses:
    """An encoder whose text side is its classifier's classes (as BirdNET's is)."""

    id = "fake-classes"
    has_text = True
    logit_scale = 1.0

    def __init__(self, weights: dict[str, np.ndarray], biases: dict[str, float]):
        self.weights, self.biases = weights, biases

    def _find(self, name: str) -> str:
        for known in self.weights:
            if known.casefold() == name.strip().casefold():
                return known
        raise InvalidInput(f"no class {name!r}; did you mean: {', '.join(self.weights)}?")

    def encode_text(self, text: str) -> np.ndarray:
        return self.weights[self._find(text)]

    def class_bias(self, text: str) -> float:
        return self.biases[self._find(text)]


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 16)).astype(np.float32) * 0.3
    y = (x[:, 2] > 0.25).astype(int)
    w = np.zeros(16, np.float32)
    w[2] = 20.0
    return x, y, FakeClasses({"Human vocal": w, "Dog": -w}, {"Human vocal": -5.0, "Dog": 1.0})


def test_the_prior_is_the_classifiers_own_score_and_replays_without_it(pool):
    x, y, classes = pool
    s = LabelingSession(x, text_encoder=classes, encoder_id="fake-classes")
    s.set_query("human VOCAL")
    expected = 1 / (1 + np.exp(-(x @ classes.weights["Human vocal"] - 5.0)))
    np.testing.assert_allclose(s.probs, expected, atol=1e-5)  # not centred on the pool's mean
    event = [e for e in s.log.events if isinstance(e, QuerySet)][-1]
    assert event.query_type == "class" and event.bias == -5.0
    batch = s.next_batch("verify_positives", 20)  # before any label
    assert np.mean(y[batch.ids]) > 0.9
    events, _ = parse_jsonl(s.export_events_jsonl())
    replayed = LabelingSession.replay(events, x)  # no encoder at all
    np.testing.assert_allclose(replayed.probs, s.probs, atol=1e-6)


def test_an_unknown_class_is_refused_and_nothing_is_journaled(pool):
    x, _, classes = pool
    s = LabelingSession(x, text_encoder=classes)
    before = len(s.log.events)
    with pytest.raises(InvalidInput, match="did you mean: Human vocal, Dog"):
        s.set_query("Cat")
    assert len(s.log.events) == before


def test_the_exported_model_scores_as_the_session_did(pool):
    x, y, classes = pool
    s = LabelingSession(x, text_encoder=classes, seed=1, encoder_id="fake-classes")
    s.set_query("Human vocal")
    for strategy in ("verify_positives", "random"):
        batch = s.next_batch(strategy, 24)
        s.submit([(i, int(y[i])) for i in batch.ids], batch_id=batch.batch_id)
    export = snapshot(s, classes)
    assert export.metadata["prior"]["query_type"] == "class" and export.metadata["prior"]["center"] == 5.0
    np.testing.assert_allclose(export.classifier().scores(x), s.probs, atol=1e-5)


def test_text_queries_of_older_journals_load_as_text():
    old = {"type": "query_set", "seq": 2, "ts": 0.0, "query": "smiling", "embedding": [1.0, 0.0], "logit_scale": 50.0}
    event = event_from_dict(old)
    assert event.query_type == "text" and event.bias == 0.0
    with pytest.raises(InvalidInput, match="query_type"):
        event_from_dict({**old, "v": 2, "query_type": "regex", "bias": 0.0})


def test_the_bench_runs_zero_shot_rows_with_the_query_given():
    from fastlabel.bench.simulate import ZERO_SHOT, plan_runs

    runs, _ = plan_runs(["random"], "spoken_7", True, "Human vocal")
    assert [(r.name, r.query) for r in runs] == [("random", None), (ZERO_SHOT, "Human vocal")]
    runs, _ = plan_runs(["random"], "Smiling", True)
    assert runs[-1].query is not None and "smil" in runs[-1].query.lower()
