"""Latency one labeler feels: submit a page -> next page shown, and submit -> WebSocket push arriving.

One client labels `--rounds` pages in a row: POST /api/submit_labels, then GET /api/next_batch
(what the page does after each confirm). The round trip is from sending the submit to having the
next page. A WebSocket watching the page times the "trained" push for each submission.

By default: the CelebA 10k sprite (../shared/data/celeba10k, 100x100) with 512-d embeddings. No
512-d encoder runs here, so unless --embeddings is given a seeded random 10000x512 float32 .npy
stands in (`--encoder precomputed`): the head's cost depends only on the shapes.
Loopback only; stops by itself.
Run: .venv/bin/python benchmarks/latency.py [--url http://127.0.0.1:8008]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import simple_websocket

from served import REPO_ROOT, Client, latency_table, percentiles_ms, serve_args_from, serving, stop_listener

CELEBA_SPRITE = REPO_ROOT.parent / "shared" / "data" / "celeba10k" / "sprite.jpg"


def random_embeddings(path: Path, n: int, dim: int, seed: int = 0) -> Path:
    """A seeded (n, dim) float32 .npy; written once."""
    if not path.exists():
        rng = np.random.default_rng(seed)
        np.save(path, rng.standard_normal((n, dim), dtype=np.float32), allow_pickle=False)
    return path


class PushClock:
    """A socket watching the current page; remembers when each retrain's push arrived, by seq."""

    def __init__(self, base: str) -> None:
        self.ws = simple_websocket.Client.connect(base.replace("http://", "ws://") + "/ws")
        self.arrived: dict[int, float] = {}
        self._stop = threading.Event()
        self._seen = threading.Condition()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def watch(self, ids: list[int]) -> None:
        self.ws.send(orjson.dumps({"type": "watch", "ids": ids}).decode())

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self.ws.receive(timeout=0.5)
            except simple_websocket.ConnectionClosed:
                return
            if raw is None:
                continue
            now = time.perf_counter()
            msg = orjson.loads(raw)
            if msg.get("type") == "trained":
                with self._seen:
                    self.arrived[msg["history_point"]["seq"]] = now
                    self._seen.notify_all()

    def wait_for(self, seq: int, timeout: float = 10) -> float | None:
        with self._seen:
            self._seen.wait_for(lambda: seq in self.arrived, timeout)
            return self.arrived.get(seq)

    def close(self) -> None:
        stop_listener(self.ws, self._stop, self.thread)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an already running server on loopback (default: start one here)")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=48)
    parser.add_argument("--strategy", default="borderline")
    parser.add_argument("--encoder", default="precomputed")
    parser.add_argument("--sprite", type=Path, default=CELEBA_SPRITE)
    parser.add_argument("--grid", default="100x100")
    parser.add_argument("--embeddings", type=Path, help=".npy (N x D); default: seeded random N x --dim")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--home", type=Path, help="server home when started here (default: a temp folder)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fastlabel-latency-") as scratch:
        home = args.home or Path(scratch) / "home"
        home.mkdir(parents=True, exist_ok=True)
        if args.encoder == "precomputed" and args.embeddings is None and not args.url:
            cols, rows = (int(v) for v in args.grid.lower().split("x"))
            args.embeddings = random_embeddings(home / f"random-{cols * rows}x{args.dim}.npy", cols * rows, args.dim)
        with serving(args.url, serve_args_from(args), home=home) as base:
            figures = measure(base, args)
    print(f"data: {figures['data']['name']} ({figures['data']['n_items']} items), encoder {figures['encoder']}, "
          f"page {args.batch_size}, {args.rounds} rounds, labels at the end: {figures['labeled']}")
    print(latency_table(figures["raw"]))
    if args.json:
        args.json.write_bytes(orjson.dumps({k: v for k, v in figures.items() if k != "raw"},
                                           option=orjson.OPT_INDENT_2))
    return 0


def measure(base: str, args: argparse.Namespace) -> dict:
    client = Client(base)
    state = client.json("GET", "/api/state")
    clock = PushClock(base)
    rng = random.Random(0)
    next_path = f"/api/next_batch?strategy={args.strategy}&batch_size={args.batch_size}"
    page = client.json("GET", next_path)
    raw: dict[str, list[float]] = {"submit -> next page": [], "submit (POST only)": [],
                                   "next_batch (GET only)": [], "submit -> push arrives": [], "train_ms (server)": []}
    for _ in range(args.rounds):
        ids = [item["id"] for item in page["items"]]
        clock.watch(ids)
        labels = [{"id": i, "label": rng.randint(0, 1)} for i in ids]
        sent = time.perf_counter()
        status, body, submit_s = client.call("POST", f"/api/submit_labels?batch_id={page['batch_id']}", labels)
        if status != 200:
            raise SystemExit(f"submit failed: {status} {body[:200]!r}")
        ack = orjson.loads(body)
        status, body, next_s = client.call("GET", next_path)
        if status != 200:
            raise SystemExit(f"next_batch failed: {status} {body[:200]!r}")
        raw["submit -> next page"].append(time.perf_counter() - sent)
        raw["submit (POST only)"].append(submit_s)
        raw["next_batch (GET only)"].append(next_s)
        if ack["train_ms"] is not None:
            raw["train_ms (server)"].append(ack["train_ms"] / 1000)
        arrived = clock.wait_for(ack["history_point"]["seq"])  # the retrain that covered this submission
        if arrived is not None:
            raw["submit -> push arrives"].append(arrived - sent)
        page = orjson.loads(body)
        if page["exhausted"]:
            break
    clock.close()
    labeled = client.json("GET", "/api/state")["counts"]["labeled"]
    client.close()
    return {"data": state["data"], "encoder": state["encoder"]["id"], "labeled": labeled, "raw": raw,
            "latency_ms": {name: percentiles_ms(v) for name, v in raw.items()}}


if __name__ == "__main__":
    raise SystemExit(main())
