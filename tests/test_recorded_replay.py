"""The session recorded in replays/ still loads, and replays to the labels it holds and to the
probabilities its pages showed. Those were computed on another machine: float rounding in the
embedding's PCA and the fits drifts a little over warm-started retrains, so probabilities are compared
closely at the first retrain and by class (and mean difference) after; a replay here is exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fastlabel.config import Config
from fastlabel.events import BatchServed, load_events
from fastlabel.session import LabelingSession
from fastlabel.workspace import open_pool

RECORDED = Path(__file__).absolute().parent.parent / "replays" / "demo-smiling.jsonl"


@pytest.fixture(scope="module")
def demo_pool(new_home):
    return open_pool(Config(home=new_home("replay-home"), encoder="pixels"))


def test_recorded_session_replays_to_the_probabilities_each_page_showed(demo_pool) -> None:
    events = load_events(RECORDED)
    pages = [k for k, e in enumerate(events) if isinstance(e, BatchServed)]
    assert len(pages) >= 5
    embeddings = np.asarray(demo_pool.embeddings)
    data_id = demo_pool.source.fingerprint()
    for n, k in enumerate(pages[:2] + pages[-1:]):  # the session as it stood when page k was served
        served = events[k]
        assert isinstance(served, BatchServed)
        shown = np.asarray(served.probs)
        now = LabelingSession.replay(events[:k], embeddings, data_id=data_id).probs[list(served.ids)]
        if n < 2:  # before any head, and right after the first retrain
            np.testing.assert_allclose(now, shown, atol=1e-3)
        assert np.array_equal(now >= 0.5, shown >= 0.5), f"page at seq {served.seq} changed class"
        assert float(np.abs(now - shown).mean()) < 0.05
    whole = LabelingSession.replay(events, embeddings, data_id=data_id)
    again = LabelingSession.replay(events, embeddings, data_id=data_id)
    np.testing.assert_allclose(whole.probs, again.probs, atol=1e-6)
    assert whole.counts()["labeled"] == len(whole.state.labels) > 0
    assert [p.seq for p in whole.history()] == [e.seq for e in events if e.type == "model_trained"]
