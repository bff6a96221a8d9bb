"""How good is the head, and how many positives are still hidden? Estimated from audit cards.

Audit cards are drawn uniformly at random from the items still unlabeled when a page is
served (never chosen by the active strategy) and held out of training, so the current
model is independent of their labels. For each page d with audit draws from a population
P_d of size m_d, the Horvitz-Thompson total  m_d / k_d * sum_a y_a [a in group]  is
unbiased for the number of positives in P_d that fall in a group (predicted negative, or
predicted positive, by the current model). Items of P_d labeled since then are known and
subtracted, leaving an unbiased estimate of the positives still hidden in that group.
The pages' estimates are averaged with weights fixed in advance (their audit card counts), so
the average stays unbiased; the interval is a Wilson interval on the pooled audit draws.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from ..events import SessionState
from ..threshold import THRESHOLD


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float
    n_pages: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass(frozen=True)
class QualityEstimates:
    audit_cards: int
    unlabeled_predicted_negative: int
    unlabeled_predicted_positive: int
    hidden_positives: Estimate | None  # among unlabeled predicted negatives
    precision: Estimate | None  # of the head on unlabeled predicted positives
    threshold: float = THRESHOLD

    def to_dict(self) -> dict:
        return asdict(self)


def wilson(successes: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a binomial rate; honest with few draws and rare events."""
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class AuditTotals:
    """Per audited page: the Horvitz-Thompson estimates, and the pooled draws behind them."""

    hidden: np.ndarray  # per page, positives hidden among the group
    cards: np.ndarray  # per page, audit cards behind that estimate
    hits: int  # audit cards positive and in the group
    draws: int  # audit cards
    mean_pool: float  # mean population an audit card was drawn from


def estimate(totals: AuditTotals, confidence: float, upper: float) -> Estimate | None:
    """Unbiased point estimate (per-page HT totals averaged with weights = audit cards per page, fixed
    in advance) with a Wilson interval on the pooled rate."""
    if totals.hidden.size == 0:
        return None
    value = float(np.average(totals.hidden, weights=totals.cards))
    rate = totals.hits / totals.draws
    lo, hi = wilson(totals.hits, totals.draws, confidence)
    low = value + totals.mean_pool * (lo - rate)
    high = value + totals.mean_pool * (hi - rate)
    clip = lambda x: round(float(np.clip(x, 0, upper)), 4)  # noqa: E731
    return Estimate(clip(value), clip(low), clip(high), int(totals.hidden.size))


def audit_labels_by_page(state: SessionState) -> dict[int, set[int]]:
    """For each served page, the ids labeled by a submission of that page still in effect.

    Only these audit cards count: a page replaced unsubmitted (a strategy switch, a reload) drew its
    audit cards too, and those items may be labeled later on another page, where they were not audit
    draws. A submission without a batch id belongs to the latest page served before it.
    """
    out: dict[int, set[int]] = {}
    served = [b.seq for b in state.batches]
    for sub in state.submissions:
        page = sub.batch_id
        if page is None:
            earlier = [seq for seq in served if seq < sub.seq]
            page = earlier[-1] if earlier else None
        if page is not None:
            out.setdefault(page, set()).update(item for item, _ in sub.labels)
    return out


def audit_totals(state: SessionState, probs: np.ndarray, threshold: float = THRESHOLD) -> tuple[AuditTotals, AuditTotals]:
    """Audit evidence for the positives still hidden among (predicted negatives, predicted positives)."""
    labels, first = state.labels, state.first_labeled()
    ids = np.fromiter(first.keys(), dtype=np.int64, count=len(first))
    since = np.fromiter(first.values(), dtype=np.int64, count=len(first))
    y = np.array([labels[i] for i in ids], dtype=np.float64)
    in_neg = probs[ids] < threshold if ids.size else np.zeros(0, bool)
    pages: dict[bool, list[float]] = {True: [], False: []}
    hits = {True: 0, False: 0}
    draws, pools, cards = 0, [], []
    labeled_on = audit_labels_by_page(state)
    for batch in state.batches:
        audited = [a for a in batch.audit if a in labels and a in labeled_on.get(batch.seq, ())]
        if not audited or batch.audit_pool <= 0:
            continue
        draws += len(audited)
        cards.append(len(audited))
        pools += [batch.audit_pool] * len(audited)
        scale = batch.audit_pool / len(audited)
        ya = np.array([labels[a] for a in audited], dtype=np.float64)
        neg_a = probs[np.asarray(audited)] < threshold
        # the population's items labeled since are known; the page's own strategy picks were never in it
        picks = list(set(batch.ids) - set(batch.audit))
        later = (since > batch.seq) & ~np.isin(ids, picks)
        for group in (True, False):
            member_a = neg_a if group else ~neg_a
            member = in_neg if group else ~in_neg
            found = float((ya * member_a).sum())
            hits[group] += int(found)
            pages[group].append(scale * found - float((y * member)[later].sum()))
    mean_pool = float(np.mean(pools)) if pools else 0.0
    neg, pos = (AuditTotals(np.asarray(pages[g]), np.asarray(cards, float), hits[g], draws, mean_pool)
                for g in (True, False))
    return neg, pos


def quality_estimates(state: SessionState, probs: np.ndarray, threshold: float = THRESHOLD,
                      confidence: float = 0.95, available: np.ndarray | None = None) -> QualityEstimates:
    """Estimates over the unlabeled items; `available` (a bool mask) leaves out items no longer served."""
    unlabeled = np.ones(probs.shape[0], dtype=bool) if available is None else np.array(available, dtype=bool)
    if state.labels:
        unlabeled[np.fromiter(state.labels.keys(), dtype=np.int64)] = False
    n_neg = int((unlabeled & (probs < threshold)).sum())
    n_pos = int((unlabeled & (probs >= threshold)).sum())
    neg, pos = audit_totals(state, probs, threshold)
    hidden = estimate(neg, confidence, n_neg)
    found = estimate(pos, confidence, n_pos) if n_pos else None
    precision = None
    if found is not None:
        precision = Estimate(*(round(v / n_pos, 4) for v in (found.value, found.low, found.high)), found.n_pages)
    return QualityEstimates(neg.draws, n_neg, n_pos, hidden, precision, threshold)


def stopping_signal(flip_rates: list[float | None], est: QualityEstimates, *, max_flip: float = 0.01,
                    min_pages: int = 5) -> tuple[bool, str]:
    """Stop when the last retrains barely changed the predictions and the estimates are tight."""
    recent = [f for f in flip_rates[-2:] if f is not None]
    if len(recent) < 2:
        return False, "keep labeling: the model needs a few pages before it can judge when to stop"
    if max(recent) > max_flip:
        return False, f"predictions still changing ({recent[-1]:.1%} flipped in the last retrain)"
    h = est.hidden_positives
    if h is None or h.n_pages < min_pages:
        return False, f"predictions are stable; label {min_pages}+ pages with audit cards to check what is missed"
    tight = h.half_width <= max(10.0, 0.1 * max(est.unlabeled_predicted_positive, 1))
    if not tight:
        return False, f"predictions are stable, but the estimate of missed positives is still wide (±{h.half_width:.0f})"
    return True, (f"ready to stop: predictions are stable and about {h.value:.0f} ± {h.half_width:.0f} positives "
                  f"remain among {est.unlabeled_predicted_negative:,} predicted negatives; export the predictions")


@dataclass(frozen=True)
class FindProgress:
    """The find goal's headline: positives labeled, and the positives estimated in the pool (the
    labeled ones plus those the audit cards say are still hidden, among predicted negatives and
    predicted positives), with the interval from the two audit estimates' bounds added up."""

    found: int
    total: Estimate | None

    @property
    def share(self) -> float | None:
        return self.found / self.total.value if self.total is not None and self.total.value > 0 else None

    def to_dict(self) -> dict:
        return {"found": self.found, "total": asdict(self.total) if self.total else None, "share": self.share}


def find_progress(found: int, est: QualityEstimates) -> FindProgress:
    """Positives found against the positives estimated in the pool (None before any audit card)."""
    h = est.hidden_positives
    if h is None:
        return FindProgress(found, None)
    n_pos = est.unlabeled_predicted_positive
    p = est.precision or Estimate(0.0, 0.0, 1.0 if n_pos else 0.0, h.n_pages)
    total = Estimate(round(found + h.value + p.value * n_pos, 1), round(found + h.low + p.low * n_pos, 1),
                     round(found + h.high + p.high * n_pos, 1), h.n_pages)
    return FindProgress(found, total)


def find_stopping_signal(progress: FindProgress, recent_hits: list[float], *, target: float = 0.95,
                         min_pages: int = 5, dry: float = 0.0) -> tuple[bool, str]:
    """Stop finding when the estimate says `target` of the positives are labeled, once `min_pages`
    pages carried audit cards and the search ran dry: the last two pages' picks held no more than
    `dry` positives (none, by default; two audit cards a page alone say little on a small pool)."""
    total = progress.total
    if total is None or total.n_pages < min_pages:
        return False, f"keep searching: label {min_pages}+ pages with audit cards to estimate what is still hidden"
    share = progress.share or 0.0
    said = (f"{progress.found:,} of about {total.value:,.0f} positives found "
            f"({total.low:,.0f}–{total.high:,.0f} in the pool)")
    if share < target:
        return False, f"keep searching: {said}"
    sure = progress.found >= target * total.high  # even the interval's top leaves nothing to find
    if not sure and (len(recent_hits) < 2 or max(recent_hits[-2:]) > dry):
        return False, f"keep searching: {said}, but the last pages still found positives"
    return True, f"ready to stop: {said}, {share:.0%} by the estimate; export the labels"


def page_hit_rates(state: SessionState, last: int = 2) -> list[float]:
    """Positive share of the strategy's own picks (audit cards left out) on the last pages submitted."""
    rates: list[float] = []
    for sub in reversed(state.submissions):
        if sub.correction is not None or sub.batch_id is None:
            continue
        picks = [y for item, y in sub.labels if item not in state.audit_ids]
        if picks:
            rates.append(sum(picks) / len(picks))
        if len(rates) == last:
            break
    return rates[::-1]
