"""Rebuild a recorded session from its JSONL and summarise it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .config import Config
from .errors import InvalidInput
from .events import Event
from .provenance import Recording
from .session import LabelingSession
from .session.agreement import agreement_report
from .session.snapshots import snapshot_dir
from .workspace import item_space, open_pool


def replay_session(events: list[Event], config: Config, snapshots: bool | Path = False,
                   recording: Recording | None = None) -> LabelingSession:
    """Replay events over the pool the config names (with a `recording`, checked to be the one the
    session was recorded on). `snapshots`: a folder of head snapshots to start from (False: retrain at
    every model_trained event)."""
    pool = open_pool(config, recording=recording)
    return LabelingSession.replay(events, pool.embeddings, data_id=pool.source.fingerprint(),
                                  snapshots=snapshots, **item_space(pool.source))


def only_labeler(events: list[Event], labeler: str) -> list[Event]:
    """The events of one labeler (pages served to them, their labels, undos and resolutions) with the
    session's own (start, queries, retrains): replaying them rebuilds what that labeler alone did."""
    kept = [e for e in events if getattr(e, "labeler", labeler) == labeler]
    if len(kept) == sum(1 for e in events if not hasattr(e, "labeler")):
        names = sorted({e.labeler for e in events if hasattr(e, "labeler")})  # type: ignore[attr-defined]
        raise InvalidInput(f"no events of labeler {labeler!r} in this journal (labelers: {', '.join(names) or '-'})")
    return kept


def labeler_lines(session: LabelingSession) -> list[str]:
    """Each labeler's labels in effect and pages, and the agreement between them (when several)."""
    st = session.state
    counts = Counter(name for by in st.votes.values() for name in by)
    pages = Counter(s.labeler for s in st.submissions if s.correction is None)
    lines = ["labelers: " + (", ".join(f"{name} {counts[name]} labels in {pages[name]} pages"
                                       for name in sorted(counts)) or "-")]
    if len(counts) > 1:
        report = agreement_report(st.votes, st.resolved)
        kappas = ", ".join(f"{r['name']} {figure(r['kappa'])}{' (flagged)' if r['flagged'] else ''}"
                           for r in report["labelers"])
        lines.append(f"agreement: alpha {figure(report['alpha'])} over {report['overlap_items']} shared items; "
                     f"kappa with the others: {kappas}; {len(report['disagreements'])} unresolved disagreements")
    return lines


def summarise(session: LabelingSession) -> str:
    st = session.state
    served = Counter(b.strategy for b in st.batches)
    history = session.history()
    last = history[-1] if history else None
    lines = [
        f"events: {len(session.log)}   items: {session.n_items}   seed: {st.seed}",
        f"query: {st.query or '-'}",
        f"labels: {len(st.labels)} ({st.n_positive} positive, {st.n_negative} negative) "
        f"from {len(st.submissions)} pages in effect",
        "pages served: " + (", ".join(f"{k} {v}" for k, v in served.most_common()) or "-"),
        *labeler_lines(session),
    ]
    if last:
        lines.append(f"last retrain: {figure(last.train_ms)} ms, {last.flip_rate:.2%} of predictions flipped")
    lines.append(f"predicted positive: {int((session.probs >= 0.5).sum())} of {session.n_items}")
    lines += insight_lines(session.insights())
    return "\n".join(lines)


def figure(value: object) -> str:
    """A figure as text; a rate that cannot be computed (no timed pages, no clicks) is a dash."""
    return "-" if value is None else str(value)


def insight_lines(insights: dict) -> list[str]:
    """The effort, estimate and stopping figures the page shows, as text."""
    e = {k: figure(v) for k, v in insights["effort"]["overall"].items()}
    q = insights["estimates"]
    lines = [f"effort: {e['labels']} labels in {e['minutes']} min; labels/min {e['labels_per_min']}, "
             f"s/label {e['sec_per_label']}, clicks/label {e['clicks_per_label']}, "
             f"positives/min {e['positives_per_min']}"]
    h, p = q["hidden_positives"], q["precision"]
    if h:
        lines.append(f"hidden positives: about {h['value']:.0f} (95% CI {h['low']:.0f}-{h['high']:.0f}) among "
                     f"{q['unlabeled_predicted_negative']:,} unlabeled predicted negatives "
                     f"({q['audit_cards']} audit cards)")
    if p:
        lines.append(f"precision on {q['unlabeled_predicted_positive']:,} unlabeled predicted positives: "
                     f"{p['value']:.1%} (95% CI {p['low']:.1%}-{p['high']:.1%})")
    lines.append(("STOP: " if insights["stop"]["ready"] else "keep going: ") + insights["stop"]["message"])
    return lines


def replay_file(path: Path, events: list[Event], config: Config, recording: Recording | None = None,
                use_snapshots: bool = True, labeler: str | None = None) -> str:
    """Summary of a replayed journal; from its head snapshots (beside it) unless told not to, or
    only one labeler's events (`labeler`: no snapshots, they were taken of everyone's)."""
    if labeler is not None:
        return summarise(replay_session(only_labeler(events, labeler), config, False, recording))
    return summarise(replay_session(events, config, snapshot_dir(path) if use_snapshots else False, recording))
