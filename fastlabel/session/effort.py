"""Human effort from the submitted pages: time on screen and clicks, overall, recent and per strategy."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Mapping

from ..events import LabelsSubmitted, SessionState, Submission


def figures(subs: Iterable[tuple[Submission, int]]) -> dict[str, float | int | None]:
    """(submission, positives in it) pairs -> rates; pages without timing count for labels only."""
    pages = labels = positives = clicks = timed_labels = timed_pos = 0
    ms = 0
    clicked_labels = 0
    for sub, pos in subs:
        pages += 1
        labels += len(sub.labels)
        positives += pos
        if sub.page_ms is not None:
            ms += sub.page_ms
            timed_labels += len(sub.labels)
            timed_pos += pos
        if sub.clicks is not None:
            clicks += sub.clicks
            clicked_labels += len(sub.labels)
    minutes = ms / 60000
    return {
        "pages": pages,
        "labels": labels,
        "positives": positives,
        "minutes": round(minutes, 2),
        "labels_per_min": round(timed_labels / minutes, 1) if minutes else None,
        "sec_per_label": round(ms / 1000 / timed_labels, 2) if timed_labels else None,
        "clicks_per_label": round(clicks / clicked_labels, 3) if clicked_labels else None,
        "positives_per_min": round(timed_pos / minutes, 1) if minutes else None,
    }


def corrections(state: SessionState) -> dict[str, int]:
    """Labels changed by corrections in effect (review page, labeled gallery), apart from the pages' figures."""
    by_origin = {"review": 0, "gallery": 0}
    for sub in state.submissions:
        if sub.correction in by_origin:
            by_origin[sub.correction] = by_origin.get(sub.correction, 0) + len(sub.changed())
    return {"total": sum(by_origin.values()), **by_origin}


def by_labeler(state: SessionState) -> dict[str, dict[str, float | int | None]]:
    """Each labeler's page figures (pages in effect, not corrections or resolutions)."""
    rows: dict[str, list] = defaultdict(list)
    for sub in state.submissions:
        if sub.correction is None:
            rows[sub.labeler].append((sub, sum(y for _, y in sub.labels)))
    return {name: figures(subs) for name, subs in sorted(rows.items())}


ACTIVE_S = 300.0  # a labeler served or submitting a page in the last five minutes is active
RATE_WINDOW_S = 600.0  # pages per minute over the last ten minutes


def team_activity(state: SessionState, now: float, leased: Mapping[str, int] | None = None) -> dict:
    """Who is labeling now: labelers active (a page served or submitted lately, or cards leased) and
    each one's pages per minute over the last ten minutes, from the events' own timestamps."""
    last_seen: dict[str, float] = {}
    submitted: dict[str, list[float]] = defaultdict(list)
    for batch in state.batches:
        last_seen[batch.labeler] = max(last_seen.get(batch.labeler, 0.0), batch.ts)
    for event in state.history:
        if isinstance(event, LabelsSubmitted):
            last_seen[event.labeler] = max(last_seen.get(event.labeler, 0.0), event.ts)
            if event.ts >= now - RATE_WINDOW_S:
                submitted[event.labeler].append(event.ts)
    leased = dict(leased or {})
    names = sorted(set(last_seen) | set(leased))
    labelers = []
    for name in names:
        times = submitted.get(name, [])
        minutes = max(1.0, (now - min(times)) / 60) if times else 1.0
        active = now - last_seen.get(name, float("-inf")) <= ACTIVE_S or leased.get(name, 0) > 0
        labelers.append({"name": name, "active": active, "pages_per_min": round(len(times) / minutes, 2),
                         "leased": leased.get(name, 0)})
    return {"active": sum(1 for row in labelers if row["active"]), "labelers": labelers}


def effort_stats(state: SessionState, recent: int = 5) -> dict:
    rows = [(sub, sum(y for _, y in sub.labels)) for sub in state.submissions if sub.correction is None]
    by_strategy: dict[str, list] = defaultdict(list)
    for sub, pos in rows:
        batch = state.batch(sub.batch_id) if sub.batch_id is not None else None
        by_strategy[batch.strategy if batch else "manual"].append((sub, pos))
    return {
        "overall": figures(rows),
        "recent": figures(rows[-recent:]),
        "by_strategy": {name: figures(subs) for name, subs in sorted(by_strategy.items())},
        "corrections": corrections(state),
        "by_labeler": by_labeler(state),
    }
