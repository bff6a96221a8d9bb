"""Quality estimates from audit cards: unbiased, and their intervals cover the truth at about the nominal rate."""

from __future__ import annotations

import numpy as np
import pytest

from fastlabel.session.effort import effort_stats
from fastlabel.session.estimates import audit_totals, quality_estimates, stopping_signal
from fastlabel.events import BatchServed, EventLog, LabelsSubmitted, SessionStarted, fold


def simulate(seed: int, n=2000, pages=20, page=24, audit=2, prevalence=0.3):
    """A pool with known truth, a fixed model, active pages (most uncertain first) with audit cards."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < prevalence).astype(int)
    probs = np.clip(0.5 + (y - 0.5) * 0.5 + rng.normal(0, 0.25, n), 0, 1)  # an imperfect model
    log = EventLog()
    log.append(SessionStarted, seed=seed, n_items=n)
    labeled = np.zeros(n, bool)
    for _ in range(pages):
        unl = np.flatnonzero(~labeled)
        picks = unl[np.argsort(np.abs(probs[unl] - 0.5))[: page - audit]]
        rest = np.setdiff1d(unl, picks)
        drawn = rng.choice(rest, audit, replace=False)
        ids = np.concatenate([picks, drawn])
        b = log.append(BatchServed, strategy="borderline", ids=tuple(int(i) for i in ids),
                       probs=tuple(float(probs[i]) for i in ids), audit=tuple(int(a) for a in drawn), audit_pool=int(rest.size))
        log.append(LabelsSubmitted, labels=tuple((int(i), int(y[i])) for i in ids), batch_id=b.seq,
                   page_ms=30_000, clicks=3)
        labeled[ids] = True
    state = fold(log)
    truth_hidden = int(((~labeled) & (probs < 0.5) & (y == 1)).sum())
    pp = (~labeled) & (probs >= 0.5)
    truth_precision = float(y[pp].mean())
    return state, probs, truth_hidden, truth_precision


@pytest.mark.parametrize("prevalence", [0.3, 0.1])
def test_interval_covers_the_truth_at_about_the_nominal_rate(prevalence):
    hidden_hits = precision_hits = 0
    errors = []
    runs = 300
    for seed in range(runs):
        state, probs, hidden, precision = simulate(seed, prevalence=prevalence)
        est = quality_estimates(state, probs)
        h, p = est.hidden_positives, est.precision
        hidden_hits += h.low <= hidden <= h.high
        precision_hits += p.low <= precision <= p.high
        neg = audit_totals(state, probs)[0]
        errors.append(np.average(neg.hidden, weights=neg.cards) - hidden)  # before clipping to [0, n]
    assert 0.88 <= hidden_hits / runs <= 0.995
    assert 0.88 <= precision_hits / runs <= 0.995
    errors = np.asarray(errors)
    # unbiased: the mean error is within three standard errors of zero
    assert abs(errors.mean()) < 3 * errors.std(ddof=1) / np.sqrt(runs)


def test_estimates_count_the_groups_and_cards():
    state, probs, _, _ = simulate(0, pages=6)
    est = quality_estimates(state, probs)
    labeled = np.zeros(len(probs), bool)
    labeled[list(state.labels)] = True
    assert est.audit_cards == 12
    assert est.unlabeled_predicted_negative == int(((~labeled) & (probs < 0.5)).sum())
    assert est.hidden_positives.n_pages == 6
    assert 0 <= est.hidden_positives.low <= est.hidden_positives.value <= est.hidden_positives.high


def test_no_audit_cards_means_no_estimate():
    log = EventLog()
    log.append(SessionStarted, seed=0, n_items=10)
    est = quality_estimates(fold(log), np.full(10, 0.2))
    assert est.hidden_positives is None and est.precision is None and est.audit_cards == 0


def test_stopping_signal_needs_stable_predictions_and_tight_estimates():
    state, probs, _, _ = simulate(1, pages=30)
    est = quality_estimates(state, probs)
    stop, why = stopping_signal([0.2, 0.05], est)
    assert not stop and "changing" in why
    stop, why = stopping_signal([0.004, 0.002], est)
    assert stop == (est.hidden_positives.half_width <= max(10.0, 0.1 * est.unlabeled_predicted_positive))
    assert why


def test_effort_figures_overall_recent_and_per_strategy():
    state, _, _, _ = simulate(2, pages=6)
    stats = effort_stats(state, recent=2)
    overall = stats["overall"]
    assert overall["pages"] == 6 and overall["labels"] == 144
    assert overall["minutes"] == pytest.approx(3.0)
    assert overall["labels_per_min"] == pytest.approx(48.0)
    assert overall["sec_per_label"] == pytest.approx(1.25)
    assert overall["clicks_per_label"] == pytest.approx(18 / 144, abs=1e-3)
    assert stats["recent"]["pages"] == 2
    assert stats["by_strategy"]["borderline"]["labels"] == 144
