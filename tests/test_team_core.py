"""Team labeling, the pure parts: who labeled what, the training-label policy, per-labeler undo,
resolutions, agreement figures against hand-computed values, leases, and the user store."""

from __future__ import annotations

import pytest

from fastlabel.errors import InvalidInput, UnknownUser, UserExists
from fastlabel.events import EventLog, LabelResolved, LabelsCorrected, LabelsSubmitted, SessionStarted, \
    SubmissionUndone, fold
from fastlabel.events.label_policy import given_by, label_in_effect
from fastlabel.session.agreement import agreement_report, cohen_kappa, krippendorff_alpha
from fastlabel.session.leases import Leases
from fastlabel.users import ADMIN, LABELER, UserStore


# -- the training-label policy ---------------------------------------------------------------------
def test_policy_resolved_then_majority_then_latest():
    assert label_in_effect({}) is None
    assert label_in_effect({"ann": (1, 5)}) == 1
    assert label_in_effect({"ann": (1, 5), "bob": (0, 7), "cy": (1, 2)}) == 1  # majority
    assert label_in_effect({"ann": (1, 5), "bob": (0, 7)}) == 0  # a tie: the latest (seq 7)
    assert label_in_effect({"ann": (1, 9), "bob": (0, 7)}) == 1
    assert label_in_effect({"ann": (1, 5), "bob": (1, 7)}, resolved=0) == 0  # the resolution overrides all
    assert label_in_effect({}, resolved=1) == 1


def test_the_label_in_effect_is_credited_to_its_latest_giver():
    votes = {"ann": (1, 5), "bob": (0, 7), "cy": (1, 9)}
    assert given_by(votes, 1) == "cy" and given_by(votes, 0) == "bob"
    assert given_by({"ann": (1, 5)}, 0) is None and given_by({}, None) is None  # resolved against everyone


def _log(*steps):
    log = EventLog()
    log.append(SessionStarted, n_items=20)
    for kind, payload in steps:
        log.append(kind, **payload)
    return log


def test_each_labeler_keeps_their_own_labels_and_the_policy_picks_one():
    log = _log((LabelsSubmitted, {"labels": ((1, 1), (2, 0)), "labeler": "ann"}),
               (LabelsSubmitted, {"labels": ((1, 0), (3, 1)), "labeler": "bob"}),
               (LabelsSubmitted, {"labels": ((1, 0),), "labeler": "cy"}))
    st = fold(log.events)
    assert {n: v[0] for n, v in st.votes[1].items()} == {"ann": 1, "bob": 0, "cy": 0}
    assert dict(st.labels) == {1: 0, 2: 0, 3: 1}
    assert st.labelers() == ["ann", "bob", "cy"]


def test_an_undo_takes_back_only_that_labelers_latest_page():
    log = _log((LabelsSubmitted, {"labels": ((1, 1), (2, 1)), "labeler": "ann"}),
               (LabelsSubmitted, {"labels": ((1, 0), (4, 0)), "labeler": "bob"}))
    ann_page = fold(log.events).latest_submission("ann")
    log.append(SubmissionUndone, submission=ann_page.seq, labeler="ann")
    st = fold(log.events)
    assert dict(st.labels) == {1: 0, 4: 0}  # bob's page stands; ann's labels are gone
    assert [s.labeler for s in st.submissions] == ["bob"]
    log.append(SubmissionUndone, submission=ann_page.seq, labeler="ann")  # no longer in effect: a no-op
    assert fold(log.events).labels == st.labels


def test_only_a_labelers_latest_submission_can_be_undone():
    log = _log((LabelsSubmitted, {"labels": ((1, 1),), "labeler": "ann"}),
               (LabelsSubmitted, {"labels": ((2, 1),), "labeler": "ann"}))
    first = fold(log.events).submissions[0]
    log.append(SubmissionUndone, submission=first.seq, labeler="ann")
    assert dict(fold(log.events).labels) == {1: 1, 2: 1}


def test_a_resolution_overrides_and_is_undone_like_a_page():
    log = _log((LabelsSubmitted, {"labels": ((1, 1),), "labeler": "ann"}),
               (LabelsSubmitted, {"labels": ((1, 0),), "labeler": "bob"}),
               (LabelResolved, {"labels": ((1, 1),), "labeler": "boss"}))
    st = fold(log.events)
    assert st.labels[1] == 1 and dict(st.resolved) == {1: 1}
    assert agreement_report(st.votes, st.resolved)["disagreements"] == []  # resolved: off the queue
    assert st.corrected() == {}  # a resolution is not counted as a correction
    log.append(SubmissionUndone, submission=st.latest_submission("boss").seq, labeler="boss")
    st = fold(log.events)
    assert st.labels[1] == 0 and not st.resolved  # back to the tie's latest label
    assert [d["id"] for d in agreement_report(st.votes, st.resolved)["disagreements"]] == [1]


def test_a_correction_changes_the_labelers_own_vote():
    log = _log((LabelsSubmitted, {"labels": ((1, 1),), "labeler": "ann"}),
               (LabelsSubmitted, {"labels": ((1, 1),), "labeler": "bob"}),
               (LabelsCorrected, {"labels": ((1, 0),), "labeler": "ann", "origin": "review"}))
    st = fold(log.events)
    assert {n: v[0] for n, v in st.votes[1].items()} == {"ann": 0, "bob": 1}
    assert st.labels[1] == 0  # a tie: ann's correction is the latest


def test_a_bad_labeler_name_is_refused():
    with pytest.raises(InvalidInput, match="labeler"):
        _log((LabelsSubmitted, {"labels": ((1, 1),), "labeler": "../x"}))


# -- agreement figures, against hand-computed values -----------------------------------------------
A = [1, 1, 0, 0, 1, 0, 1, 0, 1, 1]
B = [1, 0, 0, 0, 1, 1, 1, 0, 1, 1]


def test_cohen_kappa_by_hand():
    # n11=5 n10=1 n01=1 n00=3: po=0.8, pe=0.6*0.6+0.4*0.4=0.52, kappa=0.28/0.48
    assert cohen_kappa(A, B) == pytest.approx(0.28 / 0.48)
    assert cohen_kappa(A, A) == pytest.approx(1.0)
    assert cohen_kappa([1, 1], [1, 1]) is None  # chance agreement is 1: undefined


def test_krippendorff_alpha_by_hand():
    # two coders: alpha = 1 - (1 - Scott's pi)(2N - 1)/(2N); pi = (0.8 - 0.52)/0.48 with pooled p1 = 0.6
    pi = 0.28 / 0.48
    assert krippendorff_alpha([[a, b] for a, b in zip(A, B)]) == pytest.approx(1 - (1 - pi) * 19 / 20)
    # three units and one of three coders: o00=2, o11=3, o01=o10=2 -> n0=4, n1=5, alpha = 1 - 8*4/(2*4*5) = 0.2
    assert krippendorff_alpha([[1, 1], [0, 0], [1, 0], [1, 1, 0]]) == pytest.approx(0.2)
    assert krippendorff_alpha([[1, 1], [1]]) is None


def test_agreement_report_pairs_labelers_and_flags_the_one_who_disagrees():
    votes = {}
    for item in range(40):
        truth = item % 2
        votes[item] = {"ann": (truth, 1), "bob": (truth, 2), "noisy": (1 - truth if item % 4 == 0 else truth, 3)}
    report = agreement_report(votes, {}, flag_below=0.7, min_shared=10)
    by = {r["name"]: r for r in report["labelers"]}
    assert by["noisy"]["flagged"] and not by["ann"]["flagged"] and not by["bob"]["flagged"]
    assert by["noisy"]["kappa"] == min(r["kappa"] for r in report["labelers"])
    pair = next(p for p in report["pairs"] if p["labelers"] == ["ann", "bob"])
    assert pair["agreement"] == 1.0 and pair["kappa"] == 1.0 and pair["shared"] == 40
    assert len(report["disagreements"]) == 10  # every fourth item
    assert report["disagreements"][0] == {"id": 0, "votes": {"ann": 0, "bob": 0, "noisy": 1}, "label": 0}


# -- leases ----------------------------------------------------------------------------------------
def test_leases_keep_cards_from_others_until_they_end():
    now = [0.0]
    leases = Leases(ttl_s=10, clock=lambda: now[0])
    leases.grant("ann", [1, 2, 3])
    assert sorted(leases.held_by_others("bob")) == [1, 2, 3] and leases.held_by_others("ann").size == 0
    now[0] = 8
    leases.renew("ann")  # activity
    now[0] = 15
    assert sorted(leases.held_by_others("bob")) == [1, 2, 3]
    assert leases.settle("ann", [1]) == 0  # submitted in time
    assert sorted(leases.held_by_others("bob")) == [2, 3]
    now[0] = 30  # expired
    assert leases.held_by_others("bob").size == 0
    assert leases.settle("ann", [2, 3]) == 2 and leases.lapsed_submits == 2  # accepted, and counted
    leases.grant("bob", [5])
    leases.release("bob")  # a closed tab
    assert leases.holders() == {}


# -- the user store --------------------------------------------------------------------------------
def test_users_add_authenticate_rotate_remove(tmp_path):
    store = UserStore(tmp_path)
    assert not store
    token = store.add("ann", admin=True)
    other = store.add("bob")
    assert token not in (tmp_path / "users.json").read_text() and "ann" in (tmp_path / "users.json").read_text()
    assert store.authenticate(token).name == "ann" and store.get("ann").role == ADMIN
    assert store.authenticate(other).role == LABELER
    assert store.authenticate(token) is not None  # remembered: no second scrypt
    assert store.authenticate(token[:-1] + ("x" if token[-1] != "x" else "y")) is None
    assert store.authenticate("nonsense") is None and store.authenticate(None) is None
    with pytest.raises(UserExists):
        store.add("ann")
    new = store.rotate("ann")
    assert store.authenticate(token) is None and store.authenticate(new).name == "ann"
    UserStore(tmp_path).remove("bob")  # another process (the CLI) changes the file: seen at once
    assert store.authenticate(other) is None and [u.name for u in store.users()] == ["ann"]
    with pytest.raises(UnknownUser):
        store.remove("bob")
    with pytest.raises(InvalidInput):
        store.add("a b")
