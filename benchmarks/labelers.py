"""A team on one concept: N simulated labelers (HTTP + WebSocket clients) against one server.

Each labeler is a user with a personal token, one keep-alive HTTP connection and one open WebSocket
(counting the retrains pushed to it). It does `--pages` rounds of GET /api/next_batch then POST
/api/submit_labels, answering every card from the ground truth column; one of them (the last) flips
`--noise` of its answers. First one labeler labels a concept of its own alone (the baseline), then
all of them label another concept at once, in the same run on the same server.

Checks, from the concept's journal (exported by an admin) and /api/agreement:
- 0 labels lost or duplicated: every acknowledged submission is in the journal once, as sent, under its
  labeler, and every label it gave is that labeler's label in the final state;
- no card served to two labelers outside the overlap cards;
- the noisy labeler has the lowest kappa with the others, and is flagged;
- submit -> next page p95 with the team against the labeler alone.

Loopback only; stops by itself.
Run (idle machine): .venv/bin/python benchmarks/labelers.py --sprite ../shared/data/celeba10k/sprite.jpg \\
    --grid 100x100 --attributes ../shared/data/celeba10k/attributes.csv --attribute Smiling \\
    --encoder imagenet --labelers 8 --pages 30 --out bench-out/labelers.json
Smoke: the same with --labelers 2 --pages 3 (it still checks everything it can).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).absolute().parent.parent))
from fastlabel.events import BatchServed, LabelsSubmitted, ModelTrained, SessionState, apply, parse_jsonl  # noqa: E402
from fastlabel.users import UserStore  # noqa: E402

from load import Watcher  # noqa: E402
from served import Client, percentiles, percentiles_ms, serve_args_from, serving  # noqa: E402

ADMIN = "lead"


def truth_column(path: Path, attribute: str) -> list[int]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if attribute not in rows[0]:
        raise SystemExit(f"{path} has no column {attribute!r}")
    return [1 if int(r[attribute]) > 0 else 0 for r in rows]


@dataclass
class Labeler:
    name: str
    token: str
    noise: float
    acks: list[tuple[int, dict[int, int]]] = field(default_factory=list)  # (submission seq, labels)
    latency: list[float] = field(default_factory=list)  # submit -> next page, seconds
    errors: list[str] = field(default_factory=list)
    pushes: int = 0
    pushed_by: set[str] = field(default_factory=set)


def label(base: str, who: Labeler, concept: str, truth: list[int], pages: int, batch_size: int,
          start: threading.Barrier | None, think_s: float = 0.0) -> None:
    """`pages` rounds of next page -> answer -> submit; the time from sending a submit to holding the next page.
    `think_s`: the mean time spent looking at a page before submitting it (0.5x-1.5x, at random)."""
    rng = random.Random(hash(who.name) & 0xFFFF)
    client = Client(base, token=who.token)
    watcher = Watcher(base, [], who.token)
    if start is not None:
        start.wait()
    query = f"concept={concept}&batch_size={batch_size}"
    try:
        page = client.json("GET", f"/api/next_batch?{query}")
        for _ in range(pages):
            ids = [item["id"] for item in page["items"]]
            if not ids:
                who.errors.append("pool exhausted")
                break
            answers = {i: truth[i] if rng.random() >= who.noise else 1 - truth[i] for i in ids}
            time.sleep(rng.uniform(0.5, 1.5) * think_s)
            began = time.perf_counter()
            status, raw, _ = client.call("POST", f"/api/submit_labels?concept={concept}&batch_id={page['batch_id']}"
                                                 f"&page_ms={rng.randint(4000, 12000)}&clicks={rng.randint(0, 8)}",
                                         [{"id": i, "label": y} for i, y in answers.items()])
            if status != 200:
                who.errors.append(f"submit {status}: {raw[:120]!r}")
                break
            who.acks.append((orjson.loads(raw)["submission"], answers))
            page = client.json("GET", f"/api/next_batch?{query}")
            who.latency.append(time.perf_counter() - began)
    except (OSError, RuntimeError) as exc:
        who.errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        time.sleep(1.0)  # the last retrain's push
        watcher.stop()
        who.pushes, who.pushed_by = watcher.counts["trained"], watcher.by
        client.close()


def verify(base: str, admin: str, concept: str, team: list[Labeler], keep: Path | None = None) -> dict:
    """Lost or duplicated labels and cards served to two labelers, from the concept's journal (kept
    at `keep` when given)."""
    admin_client = Client(base, token=admin)
    status, raw, _ = admin_client.call("GET", f"/api/export/events?concept={concept}")
    if status != 200:
        raise SystemExit(f"export of the journal failed: {status} {raw[:200]!r}")
    if keep is not None:
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.write_bytes(raw)
    events, problems = parse_jsonl(raw)
    # the head's lag at each page served: labels given but not yet in it, and seconds since its retrain began
    state, trained_on, trained_at, lag, lag_s = SessionState(), 0, None, [], []
    for e in events:
        state = apply(state, e)
        if isinstance(e, ModelTrained):
            trained_on, trained_at = len(state.labels), e.ts
        elif isinstance(e, BatchServed) and trained_at is not None:
            lag.append(len(state.labels) - trained_on)
            lag_s.append(e.ts - trained_at)
    submitted = defaultdict(list)
    for e in events:
        if isinstance(e, LabelsSubmitted):
            submitted[e.labeler].append(e)
    missing = duplicated = lost = 0
    for who in team:
        by_seq = {e.seq: e for e in submitted[who.name]}
        duplicated += len(submitted[who.name]) - len(who.acks)
        for seq, answers in who.acks:
            event = by_seq.get(seq)
            if event is None or dict(event.labels) != answers:
                missing += 1
            for item, y in answers.items():
                vote = state.votes.get(item, {}).get(who.name)
                lost += vote is None or vote[0] != y
    # a page its labeler never answered was left when they closed their tab (their last page): its
    # leases ended then, so its cards may go to someone else; every other serving holds its cards
    answered = {e.batch_id for e in events if isinstance(e, LabelsSubmitted)}
    servings = defaultdict(list)
    for e in events:
        if isinstance(e, BatchServed):
            for item in set(e.ids) - set(e.overlap):
                servings[item].append((e.labeler, e.seq in answered))
    collisions, left = [], 0
    for item, held in servings.items():
        kept = [name for k, (name, done) in enumerate(held) if done or k == len(held) - 1]
        left += len(held) - len(kept)
        if len(set(kept)) > 1:
            collisions.append(item)
    collisions.sort()
    overlap_cards = sum(len(e.overlap) for e in events if isinstance(e, BatchServed))
    agreement = admin_client.json("GET", f"/api/agreement?concept={concept}")
    activity = admin_client.json("GET", f"/api/team?concept={concept}")
    admin_client.close()
    for row in agreement["disagreements"]:
        row.pop("image", None)
    return {"journal_problems": problems, "submissions_missing_or_changed": missing,
            "submissions_duplicated": duplicated, "labels_lost": lost,
            "cards_served_to_two_outside_overlap": len(collisions), "collision_ids": collisions[:20],
            "cards_of_pages_left_unanswered_served_on": left,
            "retrains": sum(isinstance(e, ModelTrained) for e in events),
            "head_lag_at_page_served": {"labels": percentiles(lag), "seconds": percentiles(lag_s)},
            "overlap_cards_served": overlap_cards, "labels_in_effect": len(state.labels),
            "agreement": {k: agreement[k] for k in ("labelers", "pairs", "alpha", "overlap_items", "flag_below_kappa")},
            "disagreements": len(agreement["disagreements"]), "activity": activity}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sprite", type=Path)
    p.add_argument("--grid")
    p.add_argument("--embeddings", type=Path)
    p.add_argument("--encoder", default="imagenet")
    p.add_argument("--attributes", type=Path, required=True)
    p.add_argument("--attribute", default="Smiling")
    p.add_argument("--labelers", type=int, default=8)
    p.add_argument("--pages", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=48)
    p.add_argument("--noise", type=float, default=0.2, help="share of answers the last labeler flips")
    p.add_argument("--home", type=Path, help="reuse a home (its embedding cache); users are added to it")
    p.add_argument("--think-s", type=float, default=0.0,
                   help="mean seconds a labeler looks at a page before submitting (default 0: back to back)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()

    truth = truth_column(args.attributes, args.attribute)
    with tempfile.TemporaryDirectory(prefix="fastlabel-team-") as scratch:
        home = args.home or Path(scratch)
        store = UserStore(home)
        names = [f"labeler{k + 1}" for k in range(args.labelers)]
        tokens = {}
        for name in [ADMIN, *names]:
            tokens[name] = store.rotate(name) if store.get(name) else store.add(name, admin=name == ADMIN)
        serve_args = serve_args_from(args)
        with serving(None, serve_args, home=home, token=tokens[ADMIN]) as base:
            admin = Client(base, token=tokens[ADMIN])
            stamp = time.strftime("%H%M%S")
            warm_concept, solo_concept, team_concept = f"warm-{stamp}", f"solo-{stamp}", f"team-{stamp}"
            for concept in (warm_concept, solo_concept, team_concept):
                status, raw, _ = admin.call("POST", "/api/concepts", {"name": concept})
                if status != 201:
                    raise SystemExit(f"could not create concept {concept}: {status} {raw[:200]!r}")
            admin.close()

            # the server's first pages pay one-off costs (torch's first fits, the index): not the baseline's
            label(base, Labeler(names[0], tokens[names[0]], 0.0), warm_concept, truth, 3, args.batch_size, None)
            solo = Labeler(names[0], tokens[names[0]], 0.0)
            label(base, solo, solo_concept, truth, args.pages, args.batch_size, None, args.think_s)

            team = [Labeler(n, tokens[n], args.noise if k == len(names) - 1 else 0.0) for k, n in enumerate(names)]
            start = threading.Barrier(len(team))
            threads = [threading.Thread(target=label, args=(base, w, team_concept, truth, args.pages, args.batch_size,
                                                             start, args.think_s)) for w in team]
            began = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            seconds = time.perf_counter() - began
            checks = verify(base, tokens[ADMIN], team_concept, team,
                            args.out.with_suffix(".journal.jsonl") if args.out else None)

    noisy = team[-1].name
    rows = {r["name"]: r for r in checks["agreement"]["labelers"]}
    kappas = {n: r["kappa"] for n, r in rows.items() if r["kappa"] is not None}
    solo_p = percentiles_ms(solo.latency)
    team_p = percentiles_ms([s for w in team for s in w.latency])
    result = {
        "labelers": len(team), "pages_each": args.pages, "batch_size": args.batch_size, "noise": args.noise,
        "think_s": args.think_s,
        "team_seconds": round(seconds, 1), "errors": [e for w in [solo, *team] for e in w.errors],
        "submit_to_next_page_ms": {"alone": solo_p, "team": team_p,
                                   "p95_ratio": round(team_p["p95"] / solo_p["p95"], 2)
                                   if solo_p.get("p95") and team_p.get("p95") else None},
        "pushes_per_labeler": {w.name: w.pushes for w in team},
        "pushes_from_others": {w.name: sorted(w.pushed_by - {w.name}) for w in team},
        "noisy_labeler": noisy,
        "noisy_has_lowest_kappa": bool(kappas) and min(kappas, key=kappas.get) == noisy,
        "noisy_flagged": bool(rows.get(noisy, {}).get("flagged")),
        **checks,
    }
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    ok = (not result["errors"] and checks["labels_lost"] == 0 and checks["submissions_duplicated"] == 0
          and checks["submissions_missing_or_changed"] == 0 and checks["cards_served_to_two_outside_overlap"] == 0)
    print(f"\n{'OK' if ok else 'FAILED'}: {len(team)} labelers x {args.pages} pages; lost {checks['labels_lost']}, "
          f"duplicated {checks['submissions_duplicated']}, served to two {checks['cards_served_to_two_outside_overlap']}; "
          f"noisy {noisy}: lowest kappa {result['noisy_has_lowest_kappa']}, flagged {result['noisy_flagged']}; "
          f"submit->next p95 alone {solo_p.get('p95')} ms, team {team_p.get('p95')} ms; {checks['retrains']} retrains, "
          f"at p95 of pages served the head was {checks['head_lag_at_page_served']['labels'].get('p95')} labels, "
          f"{checks['head_lag_at_page_served']['seconds'].get('p95')} s behind")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
