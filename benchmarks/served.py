"""A FastLabel server for the benchmarks: started on loopback (or an existing loopback URL), plus a
keep-alive JSON client and percentiles. Loopback only: these scripts never load another machine."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit

import numpy as np
import orjson

REPO_ROOT = Path(__file__).absolute().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def loopback_base(url: str) -> str:
    """`url` without a trailing slash; exits if it is not on this machine's loopback."""
    host = urlsplit(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url}: these benchmarks only target loopback (127.0.0.1, localhost)")
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One keep-alive HTTP connection (one browser tab); reconnects once if the server dropped it."""

    def __init__(self, base: str, timeout: float = 60, token: str | None = None) -> None:
        parts = urlsplit(base)
        self.host, self.port, self.timeout = parts.hostname or "127.0.0.1", parts.port or 80, timeout
        self.token = token  # a personal token, sent in the header (a server with users)
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
        """(status, raw body, seconds)."""
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        if self.token:
            headers["X-FastLabel-Token"] = self.token
        start = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                res = self.conn.getresponse()
                raw = res.read()
                return res.status, raw, time.perf_counter() - start
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, body: Any = None) -> Any:
        status, raw, _ = self.call(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {raw[:200]!r}")
        return orjson.loads(raw)

    def close(self) -> None:
        self.conn.close()


def stop_listener(ws: Any, stop: Any, thread: Any) -> None:
    """Stop a thread that reads a WebSocket, then close the socket (already closed is fine)."""
    import simple_websocket

    stop.set()
    thread.join()
    try:
        ws.close()
    except simple_websocket.ConnectionClosed:
        pass


def wait_ready(base: str, timeout: float, proc: subprocess.Popen | None = None, token: str | None = None) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode} before it was ready")
        try:
            status, raw, _ = Client(base, timeout=5, token=token).call("GET", "/api/state")
            state = orjson.loads(raw)
            if status == 200 and state["status"] == "ready":
                return state
            if state.get("status") == "error":
                raise SystemExit(f"the server could not start: {state['error']}")
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{base} was not ready after {timeout:.0f} s")


@contextmanager
def serving(url: str | None, serve_args: Sequence[str], *, home: Path | None = None,
            ready_timeout: float = 900, token: str | None = None) -> Iterator[str]:
    """Yield the base URL of a ready server: `url` as given, or a `fastlabel serve` started here on a
    fresh session journal (a reused home only saves the embedding), stopped on exit; log: <home>/server.log."""
    if url:
        base = loopback_base(url)
        wait_ready(base, ready_timeout, token=token)
        yield base
        return
    with tempfile.TemporaryDirectory(prefix="fastlabel-bench-") as scratch:
        home = home or Path(scratch)
        home.mkdir(parents=True, exist_ok=True)
        port = free_port()
        cmd = [sys.executable, "-m", "fastlabel", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--home", str(home), "--session", str(Path(scratch) / "session.jsonl"), *serve_args]
        with open(home / "server.log", "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base, ready_timeout, proc, token=token)
            yield base
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def percentiles(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> dict[str, float]:
    """n, p50, p95, p99 and max of `values` x `scale`, rounded to `digits`."""
    if not len(values):
        return {"n": 0}
    scaled = np.asarray(values, dtype=float) * scale
    p50, p95, p99 = np.percentile(scaled, [50, 95, 99])
    return {"n": int(scaled.size), "p50": round(float(p50), digits), "p95": round(float(p95), digits),
            "p99": round(float(p99), digits), "max": round(float(scaled.max()), digits)}


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    return percentiles(seconds, 1000, 1)


def latency_table(rows: dict[str, Sequence[float]]) -> str:
    lines = ["| request | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    for name, values in rows.items():
        p = percentiles_ms(values)
        if p["n"]:
            lines.append(f"| {name} | {p['n']} | {p['p50']} | {p['p95']} | {p['p99']} | {p['max']} |")
    return "\n".join(lines)


def serve_args_from(args: Any) -> list[str]:
    """The `fastlabel serve` data and encoder flags a benchmark was given."""
    out = ["--encoder", args.encoder]
    for flag, value in (("--sprite", args.sprite), ("--grid", args.grid), ("--embeddings", args.embeddings),
                        ("--batch-size", getattr(args, "batch_size", None))):
        if value is not None:
            out += [flag, str(value)]
    return out
