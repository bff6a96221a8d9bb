"""Load: N concurrent tabs labeling at once, plus open WebSockets, and a check that no label is lost.

Each client (one keep-alive connection, like a browser tab) does `--rounds` rounds of
GET /api/next_batch then POST /api/submit_labels with random 0/1 labels for the page. Once the pool
is exhausted (small data), a round revises a random page of ids instead, so every round still
submits and retrains. Meanwhile `--sockets` WebSockets watch a page each and count the "trained"
pushes. At the end every acknowledged submission must be in the event log as sent, and
/api/export/labels must hold, for every id, the label of the last acknowledged submission that
touched it (last write wins, in submission order).

Loopback only; bounded by --rounds and --time-limit; stops by itself.
Run: .venv/bin/python benchmarks/load.py [--servers dev,gunicorn] [--url http://127.0.0.1:8008] [--sprite S --grid CxR]
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import simple_websocket

from served import Client, latency_table, percentiles_ms, serve_args_from, serving, stop_listener


@dataclass
class Results:
    """What the clients saw; appended to from many threads (list.append is atomic)."""

    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    acks: list[tuple[int, dict[int, int]]] = field(default_factory=list)  # (submission seq, labels)
    errors: list[str] = field(default_factory=list)
    revisions: list[int] = field(default_factory=list)  # client number, per round that revised
    stopped_early: bool = False

    @property
    def rounds(self) -> int:
        return len(self.acks)


class Watcher:
    """One open WebSocket watching a page of ids; counts the pushes it hears, and who caused the retrains
    (`by`). `token`: a personal token, for a server with users."""

    def __init__(self, base: str, ids: list[int], token: str | None = None) -> None:
        headers = {"X-FastLabel-Token": token} if token else None
        self.ws = simple_websocket.Client.connect(base.replace("http://", "ws://") + "/ws", headers=headers)
        self.ws.send(orjson.dumps({"type": "watch", "ids": ids}).decode())
        self.counts: dict[str, int] = defaultdict(int)
        self.by: set[str] = set()
        self.error: str | None = None
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        try:
            while not self._stop.is_set():
                raw = self.ws.receive(timeout=0.5)
                if raw is not None:
                    msg = orjson.loads(raw)
                    self.counts[msg.get("type", "?")] += 1
                    if msg.get("by"):
                        self.by.add(msg["by"])
        except simple_websocket.ConnectionClosed as exc:
            if not self._stop.is_set():
                self.error = f"socket closed: {exc}"

    def stop(self) -> None:
        stop_listener(self.ws, self._stop, self.thread)


def run_client(base: str, k: int, args: argparse.Namespace, n_items: int, deadline: float,
               start: threading.Barrier, out: Results) -> None:
    rng = random.Random(1000 + k)
    client = Client(base)
    start.wait()
    try:
        for _ in range(args.rounds):
            if time.monotonic() > deadline:
                out.stopped_early = True
                return
            round_start = time.perf_counter()
            status, raw, seconds = client.call("GET", f"/api/next_batch?strategy={args.strategy}"
                                                      f"&batch_size={args.batch_size}")
            if status != 200:
                out.errors.append(f"next_batch {status}: {raw[:120]!r}")
                continue
            page = orjson.loads(raw)
            ids = [item["id"] for item in page["items"]]
            out.latency["next_batch" if ids else "next_batch (pool exhausted)"].append(seconds)
            query = f"page_ms={rng.randint(2000, 9000)}&clicks={rng.randint(0, 10)}"
            if ids:
                query += f"&batch_id={page['batch_id']}"
            else:  # nothing left to label: revise a random page instead
                ids = rng.sample(range(n_items), min(args.batch_size, n_items))
                out.revisions.append(k)
            labels = {i: rng.randint(0, 1) for i in ids}
            status, raw, seconds = client.call("POST", f"/api/submit_labels?{query}",
                                               [{"id": i, "label": y} for i, y in labels.items()])
            out.latency["submit_labels"].append(seconds)
            if status != 200:
                out.errors.append(f"submit_labels {status}: {raw[:120]!r}")
                continue
            ack = orjson.loads(raw)
            out.acks.append((ack["submission"], labels))
            if ack["train_ms"] is not None:  # the head's fit alone, inside the session lock
                out.latency["train_ms (server)"].append(ack["train_ms"] / 1000)
            out.latency["round (both)"].append(time.perf_counter() - round_start)
    except OSError as exc:
        out.errors.append(f"client {k}: {type(exc).__name__}: {exc}")
    finally:
        client.close()


def verify(base: str, acks: list[tuple[int, dict[int, int]]]) -> dict[str, int]:
    """Every acknowledged submission is in the log as sent; the labels are last-write-wins of them."""
    client = Client(base)
    _, raw_events, _ = client.call("GET", "/api/export/events")
    _, raw_labels, _ = client.call("GET", "/api/export/labels")
    client.close()
    submitted = {e["seq"]: e for e in map(orjson.loads, raw_events.splitlines()) if e["type"] == "labels_submitted"}
    missing_events = sum(1 for seq, labels in acks
                         if seq not in submitted or dict(map(tuple, submitted[seq]["labels"])) != labels)
    expected: dict[int, int] = {}
    for _, labels in sorted(acks, key=lambda ack: ack[0]):
        expected.update(labels)
    exported = {row["id"]: row["label"] for row in map(orjson.loads, raw_labels.splitlines())}
    lost = sum(1 for i, y in expected.items() if exported.get(i) != y)
    return {"acknowledged_submissions": len(acks), "ids_checked": len(expected),
            "missing_or_changed_events": missing_events, "lost_labels": lost}


def run_load(base: str, args: argparse.Namespace) -> dict:
    """One load run against a ready server; returns the summary (and prints it)."""
    state = Client(base).json("GET", "/api/state")
    n_items = state["data"]["n_items"]
    rng = random.Random(0)
    watchers = [Watcher(base, rng.sample(range(n_items), min(args.batch_size, n_items))) for _ in range(args.sockets)]
    out = Results()
    start = threading.Barrier(args.clients + 1)
    deadline = time.monotonic() + args.time_limit
    threads = [threading.Thread(target=run_client, args=(base, k, args, n_items, deadline, start, out))
               for k in range(args.clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    time.sleep(1.0)  # let the last pushes arrive
    for w in watchers:
        w.stop()
    check = verify(base, out.acks)

    pushes = [w.counts.get("trained", 0) for w in watchers]
    socket_errors = [w.error for w in watchers if w.error]
    summary = {
        "data": state["data"], "encoder": state["encoder"]["id"], "clients": args.clients,
        "rounds_per_client": args.rounds, "batch_size": args.batch_size, "sockets": args.sockets,
        "rounds_done": out.rounds, "revision_rounds": len(out.revisions), "wall_s": round(wall, 1),
        "rounds_per_s": round(out.rounds / wall, 2) if wall else 0.0, "errors": len(out.errors) + len(socket_errors),
        "stopped_early": out.stopped_early, "pushes_per_socket": {"min": min(pushes, default=0),
                                                                  "max": max(pushes, default=0)},
        "latency_ms": {name: percentiles_ms(v) for name, v in out.latency.items()}, **check,
    }
    print(f"data: {state['data']['name']} ({n_items} items), encoder {state['encoder']['id']}")
    print(f"{args.clients} clients x {args.rounds} rounds (page {args.batch_size}), {args.sockets} sockets: "
          f"{out.rounds} rounds in {wall:.1f} s = {summary['rounds_per_s']} rounds/s"
          f"{' (time limit hit)' if out.stopped_early else ''}; {len(out.revisions)} rounds revised an exhausted pool")
    print(latency_table(out.latency))
    print(f"errors: {summary['errors']}" + "".join(f"\n  {e}" for e in (out.errors + socket_errors)[:10]))
    print(f"pushes per socket: {summary['pushes_per_socket']['min']}..{summary['pushes_per_socket']['max']} "
          f"(acknowledged submissions: {check['acknowledged_submissions']})")
    print(f"acknowledged submissions missing from the log: {check['missing_or_changed_events']}; "
          f"lost labels: {check['lost_labels']} of {check['ids_checked']} ids checked")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an already running server on loopback (default: start one here)")
    parser.add_argument("--servers", default="gunicorn",
                        help="servers to start and compare in this run, in order: gunicorn, dev, or both "
                             "(e.g. dev,gunicorn); ignored with --url")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=100, help="rounds per client")
    parser.add_argument("--sockets", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--strategy", default="borderline")
    parser.add_argument("--time-limit", type=float, default=900, help="seconds; clients stop after it")
    parser.add_argument("--encoder", default="pixels")
    parser.add_argument("--sprite", type=Path)
    parser.add_argument("--grid")
    parser.add_argument("--embeddings", type=Path)
    parser.add_argument("--home", type=Path, help="server home when started here (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    servers = [None] if args.url else [name.strip() for name in args.servers.split(",") if name.strip()]
    results: dict[str, dict] = {}
    for server in servers:
        extra = [] if server is None else ["--server", server]
        print(f"== server: {server or args.url}")
        with serving(args.url, serve_args_from(args) + extra, home=args.home) as base:
            results[server or "url"] = run_load(base, args)
    if len(results) > 1:
        print("\n| server | rounds/s | submit p50 ms | submit p95 ms | next_batch p95 ms | errors | lost labels |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for name, r in results.items():
            sub, nb = r["latency_ms"].get("submit_labels", {}), r["latency_ms"].get("next_batch", {})
            print(f"| {name} | {r['rounds_per_s']} | {sub.get('p50')} | {sub.get('p95')} | {nb.get('p95')} "
                  f"| {r['errors']} | {r['lost_labels']} |")
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2))
    ok = all(not r["errors"] and not r["lost_labels"] and not r["missing_or_changed_events"] for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
