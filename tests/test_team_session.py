"""Team labeling through the session: pages that never collide, overlap cards, per-labeler undo,
resolutions that retrain, lapsed leases, exports and replays that say who labeled what, and journals
written before there were labelers, which open, replay and export as they did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from fastlabel.config import Config
from fastlabel.errors import InvalidInput, NothingToUndo
from fastlabel.events import LabelResolved, LabelsSubmitted, fold, load_events
from fastlabel.replay import only_labeler, replay_session, summarise
from fastlabel.session import LabelingSession
from fastlabel.session.leases import Leases
from fastlabel.session.views import labeler_fields, labels_jsonl

from test_session import pool  # noqa: F401 (a fixture: 600 points in 32 dimensions and their labels)

RECORDED = Path(__file__).absolute().parent.parent / "replays" / "demo-smiling.jsonl"


def answer(batch, y, flip=()):
    return [(i, int(1 - y[i]) if i in flip else int(y[i])) for i in batch.ids]


def test_two_labelers_get_disjoint_pages_then_overlap_cards(pool):
    x, y = pool
    s = LabelingSession(x, seed=3)
    ann = s.next_batch("random", 24, labeler="ann")
    bob = s.next_batch("random", 24, labeler="bob")
    assert not set(ann.ids) & set(bob.ids)  # ann's cards are leased to her
    assert not ann.overlap and not bob.overlap  # nobody had labeled anything yet
    assert s.next_batch("random", 24, labeler="ann").ids == ann.ids  # unanswered: the same page again
    s.submit(answer(ann, y), batch_id=ann.batch_id, labeler="ann")
    s.submit(answer(bob, y), batch_id=bob.batch_id, labeler="bob")
    again = s.next_batch("random", 24, labeler="bob")
    assert len(again.overlap) == 2 and set(again.overlap) <= set(ann.ids)  # cards ann labeled, served to bob
    assert set(again.overlap) <= set(again.ids)
    assert not (set(again.ids) - set(again.overlap)) & (set(ann.ids) | set(bob.ids))
    assert fold(s.log.events).batches[-1].overlap == tuple(again.overlap)


def test_a_page_whose_cards_went_to_another_after_a_closed_tab_is_not_served_again(pool):
    x, y = pool
    s = LabelingSession(x[:24], seed=3)
    ann = s.next_batch("random", 24, labeler="ann")
    s.leases.release("ann")  # ann's last tab closed: her cards are free
    bob = s.next_batch("random", 24, labeler="bob")
    assert set(bob.ids) == set(ann.ids)  # the only cards there are
    again = s.next_batch("random", 24, labeler="ann")
    assert not set(again.ids) & set(bob.ids)  # not ann's old page: bob holds those cards now


def test_a_restart_gives_each_labeler_back_the_cards_of_their_open_page(pool, tmp_path):
    from fastlabel.events import EventLog
    x, y = pool
    journal = tmp_path / "team.jsonl"
    s = LabelingSession(x[:96], EventLog.open(journal), seed=7)
    ann = s.next_batch("random", 24, labeler="ann")
    s.submit(answer(ann, y), batch_id=ann.batch_id, labeler="ann")
    open_page = s.next_batch("random", 24, labeler="ann")  # on ann's screen when the server stopped
    s.log.close()
    again = LabelingSession(x[:96], EventLog.open(journal), seed=7)
    assert again.leases.holders() == {"ann": 24}
    bob = again.next_batch("random", 48, labeler="bob")
    assert not set(bob.ids) & set(open_page.ids)  # still ann's
    assert again.next_batch("random", 24, labeler="ann").ids == open_page.ids  # served to her again
    again.log.close()
    later = LabelingSession(x[:96], EventLog.open(journal), seed=7, lease_s=0.0)  # their time ran out
    assert "ann" not in later.leases.holders()


def test_the_overlap_share_is_set_per_concept_as_a_replayed_event(pool):
    x, y = pool
    s = LabelingSession(x, seed=6, overlap_per_page=2)
    for who in ("ann", "cy"):
        page = s.next_batch("random", 48, labeler=who)
        s.submit(answer(page, y), batch_id=page.batch_id, labeler=who)
    assert len(s.next_batch("random", 48, labeler="bob").overlap) == 2  # the configured default
    assert s.set_overlap(6, labeler="boss") == 6 and s.overlap_now == 6
    s.submit(answer(s.state.batches[-1], y), batch_id=s.state.batches[-1].seq, labeler="bob")
    assert len(s.next_batch("random", 48, labeler="bob").overlap) == 6
    (event,) = [e for e in s.log.events if e.type == "overlap_set"]
    assert (event.per_page, event.labeler) == (6, "boss")
    again = LabelingSession.replay(s.log.events, x, overlap_per_page=2)
    assert again.overlap_now == 6
    for bad in (-1, 25, 2.5, "3", True):
        with pytest.raises(InvalidInput):
            s.set_overlap(bad)
    assert s.overlap_now == 6


def test_a_change_during_another_retrain_does_not_wait_for_the_head(pool, monkeypatch):
    x, y = pool
    s = LabelingSession(x, seed=5)
    ann = s.next_batch("random", 24, labeler="ann")
    bob = s.next_batch("random", 24, labeler="bob")
    s.submit(answer(ann, y), batch_id=ann.batch_id, labeler="ann")
    retrains = len(s.history())
    fits, real_retrain = [], s.trainer.retrain
    monkeypatch.setattr(s.trainer, "retrain", lambda *a, **k: fits.append(k["foreground"]) or real_retrain(*a, **k))
    with s.head_lock:  # as if ann's retrain were running now
        s.engine._training = True
        done = s.submit(answer(bob, y), batch_id=bob.batch_id, labeler="bob")
        s.engine._training = False
        assert done.queued and done.point.seq < done.seq  # answered without waiting for the head
        assert len(s.history()) == retrains  # nothing trained while the head was busy
    s.settle()  # the queued retrain ran once the head was free, and covers bob's page
    assert fits == [False]  # nobody waits on it: it does not hold up work that can wait (review pages)
    assert len(s.history()) == retrains + 1 and s.history()[-1].seq > done.seq
    assert s.history()[-1].labeled == len(s.state.labels) == 48
    plain = s.submit(answer(s.next_batch("random", 24, labeler="ann"), y), labeler="ann")
    assert not plain.queued and plain.point.train_ms is not None  # nobody else labeling: it waits, as alone
    s.next_batch("random", 24, labeler="bob")  # bob is labeling too: ann's pages no longer wait for the head
    retrains = len(s.history())
    mine = s.next_batch("random", 24, labeler="ann")
    shared = s.submit(answer(mine, y), batch_id=mine.batch_id, labeler="ann")
    assert shared.queued
    s.settle()
    assert len(s.history()) == retrains + 1 and s.history()[-1].seq > shared.seq


def test_an_overlap_disagreement_is_queued_resolved_and_retrains(pool):
    x, y = pool
    s = LabelingSession(x, seed=4)
    ann = s.next_batch("random", 24, labeler="ann")
    s.submit(answer(ann, y), batch_id=ann.batch_id, labeler="ann")
    bob = s.next_batch("random", 24, labeler="bob")
    disputed = bob.overlap[0]
    s.submit(answer(bob, y, flip={disputed}), batch_id=bob.batch_id, labeler="bob")
    report = s.agreement()
    assert [d["id"] for d in report["disagreements"]] == [disputed]
    assert report["disagreements"][0]["votes"] == {"ann": int(y[disputed]), "bob": int(1 - y[disputed])}
    retrains = len(s.history())
    done = s.resolve([(disputed, int(y[disputed]))], labeler="boss")
    assert len(s.history()) == retrains + 1 and done.point.seq > done.seq  # the head retrained after it
    assert s.state.labels[disputed] == y[disputed] and s.agreement()["disagreements"] == []
    with pytest.raises(InvalidInput, match="only labeled"):
        s.resolve([(int(np.flatnonzero(~np.isin(np.arange(600), list(s.state.labels)))[0]), 1)], labeler="boss")
    s.undo(labeler="boss")  # the resolution is undone like a page
    assert [d["id"] for d in s.agreement()["disagreements"]] == [disputed]
    replayed = LabelingSession.replay(s.log.events, x, seed=4)  # and all of it replays
    assert replayed.state.votes == s.state.votes and replayed.state.labels == s.state.labels
    np.testing.assert_array_equal(replayed.probs, s.probs)


def test_an_undo_takes_back_only_the_labelers_own_page(pool):
    x, y = pool
    s = LabelingSession(x, seed=5)
    ann = s.next_batch("random", 24, labeler="ann")
    s.submit(answer(ann, y), batch_id=ann.batch_id, labeler="ann")
    bob = s.next_batch("random", 24, labeler="bob")
    s.submit(answer(bob, y), batch_id=bob.batch_id, labeler="bob")
    undone = s.undo(labeler="ann")  # not bob's, though his is the latest
    assert undone.page is not None and list(undone.page.ids) == ann.ids
    assert set(s.state.labels) == set(bob.ids) and all(s.state.votes[i].keys() == {"bob"} for i in bob.ids)
    back = sorted(set(ann.ids) - set(bob.overlap))  # her page is hers again (but the cards bob labeled too)
    assert len(back) == 22 and sorted(s.leases.held_by_others("bob")) == back
    with pytest.raises(NothingToUndo):
        s.undo(labeler="ann")
    with pytest.raises(InvalidInput, match="only items you labeled"):
        s.correct([(bob.ids[0], 1)], origin="gallery", labeler="ann")


def test_a_submit_after_the_lease_lapsed_is_accepted_and_counted(pool):
    x, y = pool
    s = LabelingSession(x, seed=6)
    now = [0.0]
    s.leases = Leases(ttl_s=60, clock=lambda: now[0])
    ann = s.next_batch("random", 24, labeler="ann")
    assert s.leases.holders() == {"ann": 24}
    now[0] = 120  # she went for coffee: her lease lapsed
    assert s.leases.held_by_others("bob").size == 0
    s.submit(answer(ann, y), batch_id=ann.batch_id, labeler="ann")
    assert len(s.state.labels) == 24 and s.leases.lapsed_submits == 24
    assert s.team_activity()["lapsed_submits"] == 24


def test_exports_and_replays_say_who_labeled(pool, tmp_path):
    x, y = pool
    s = LabelingSession(x, seed=7)
    for name in ("ann", "bob"):
        page = s.next_batch("random", 24, labeler=name)
        s.submit(answer(page, y), batch_id=page.batch_id, page_ms=6000, labeler=name)
    rows = [orjson.loads(line) for line in s.export_labels_jsonl().splitlines()]
    assert {r["labeler"] for r in rows} == {"ann", "bob"} and len(rows) == 46  # bob had 2 overlap cards
    assert sum("votes" in r for r in rows) == 2
    assert set(s.insights()["effort"]["by_labeler"]) == {"ann", "bob"}
    activity = s.team_activity()
    assert activity["active"] == 2 and {r["name"] for r in activity["labelers"]} == {"ann", "bob"}
    ann_only = only_labeler(s.log.events, "ann")
    assert {e.labeler for e in ann_only if isinstance(e, LabelsSubmitted)} == {"ann"}
    assert len(fold(ann_only).labels) == 24
    with pytest.raises(InvalidInput, match="no events of labeler"):
        only_labeler(s.log.events, "zed")
    assert not any(isinstance(e, LabelResolved) for e in s.log.events)


def test_a_journal_from_before_labelers_opens_replays_and_exports_unchanged(new_home):
    events = load_events(RECORDED)
    state = fold(events)
    assert state.labelers() == ["owner"] and labeler_fields(state) is None
    exported = labels_jsonl(state.labels, who=labeler_fields(state))
    assert exported == b"".join(orjson.dumps({"id": i, "label": state.labels[i]}) + b"\n" for i in sorted(state.labels))
    session = replay_session(events, Config(home=new_home("recorded-team"), encoder="pixels"))
    assert session.state.labels == state.labels
    text = summarise(session)
    assert "labelers: owner 240 labels in 10 pages" in text and "agreement" not in text
    assert all(b.labeler == "owner" and b.overlap == () for b in session.state.batches)


@pytest.mark.parametrize("taken_meanwhile", [False, True])
def test_a_page_is_chosen_again_only_when_its_cards_were_taken_meanwhile(pool, monkeypatch, taken_meanwhile):
    import threading

    from fastlabel.session import page_commands
    x, y = pool
    s = LabelingSession(x, seed=8)
    first = s.next_batch("random", 24, labeler="ann")
    s.submit(answer(first, y), batch_id=first.batch_id, labeler="ann")
    real, chosen, calls = page_commands.select, [], []
    entered, release = threading.Event(), threading.Event()

    def slow(name, p, n):
        picked = real(name, p, n)
        calls.append(list(picked.ids))
        if len(calls) == 1:
            chosen.extend(int(i) for i in picked.ids)
            entered.set()
            release.wait(30)
        return picked

    monkeypatch.setattr(page_commands, "select", slow)
    pages = []
    bob = threading.Thread(target=lambda: pages.append(s.next_batch("random", 24, labeler="bob")))
    bob.start()
    assert entered.wait(30)
    if taken_meanwhile:
        s.leases.grant("cy", chosen[:2])  # cy was served two of the cards bob's page is about to show
    s.set_overlap(3, labeler="boss")  # an event: the state moved on, the head did not
    release.set()
    bob.join(30)
    (served,) = pages
    assert len(calls) == (2 if taken_meanwhile else 1)
    assert not set(served.ids) & set(chosen[:2]) if taken_meanwhile else set(chosen) <= set(served.ids)
