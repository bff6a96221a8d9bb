"""A real `fastlabel serve` in a subprocess, and a small JSON client for it (tests only)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence

import orjson

REPO_ROOT = Path(__file__).absolute().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method: str, url: str, body: Any = None, *, token: str | None = None, timeout: float = 30) -> tuple[int, Any]:
    """One HTTP call; returns (status, parsed JSON or raw bytes). Connection failures raise OSError."""
    data = None if body is None else orjson.dumps(body)
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("X-FastLabel-Token", token)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as res:
            status, raw = res.status, res.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return status, raw


def wait_until_ready(base: str, *, token: str | None = None, timeout: float = 90,
                     proc: subprocess.Popen | None = None) -> dict:
    """Poll /api/state until the session is loaded; fail fast if the process dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
        try:
            status, body = call("GET", f"{base}/api/state", token=token, timeout=5)
            if status == 200 and body["status"] == "ready":
                return body
            if status == 200 and body["status"] == "error":
                raise RuntimeError(f"server could not start: {body['error']}")
        except (OSError, http.client.HTTPException):  # not listening yet, or cut off as it exits
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{base} not ready after {timeout} s")


class ServerProcess:
    """`fastlabel serve` (pixels embeddings unless `args` say otherwise) on a loopback port; restartable
    on the same home and journal (with no journal given, the home's default one)."""

    def __init__(self, home: Path, journal: Path | None = None, port: int | None = None, *,
                 args: Sequence[str] = ("--encoder", "pixels"), ready_timeout: float = 90) -> None:
        self.home, self.journal = home, journal
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args, self.ready_timeout = list(args), ready_timeout
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        name = f"server-{self.port}.{self.starts}.log"
        return self.journal.with_suffix(f".server{self.starts}.log") if self.journal else self.home / name

    def start(self) -> dict:
        """Start the server and wait for the session to be ready; returns /api/state."""
        self.starts += 1
        cmd = [sys.executable, "-m", "fastlabel", "serve", "--port", str(self.port), *self.args,
               "--home", str(self.home), *(["--session", str(self.journal)] if self.journal else [])]
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # an open_clip model never reaches for the network
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                         start_new_session=True)  # its own group: kill9 reaches every process
        try:
            return wait_until_ready(self.base, proc=self.proc, timeout=self.ready_timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise type(exc)(f"{exc}\n{self.log()[-3000:]}") from None

    def stop(self) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL if it does not end in 10 s."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()

    def kill9(self) -> None:
        """SIGKILL to every process of the server (gunicorn's master and worker): no handler runs, nothing is
        flushed that was not already."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, Any]:
        return call("GET", self.base + path)

    def post(self, path: str, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
        return call("POST", self.base + path, body, timeout=timeout)
