"""Run the app: gunicorn (one gthread worker) in normal use, Werkzeug's server as the fallback.

One worker, because the session lives in that process's memory; threads, because each open
WebSocket holds one (flask-sock runs on gunicorn's gthread worker). The app is created in the
worker, whose start-up thread loads the data and pushes its progress to the page as before. If
the start-up fails, the worker prints the reason and exits as a failed boot, so gunicorn stops
and `fastlabel serve` exits non-zero instead of answering 503. SIGTERM is graceful: new
connections stop, requests in flight finish, sockets are shut, the journal is closed.
Errors the server itself answers (414, 431, a bad request line) are JSON like the app's.
"""

from __future__ import annotations

import logging
import os
import signal
import socketserver
import sys
import threading
from typing import Any

from flask import Flask
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from ..config import Config
from .app import create_app
from .push import MAX_SOCKETS
from .runtime import Runtime, runtime

log = logging.getLogger(__name__)
THREADS = MAX_SOCKETS + 32  # every socket holds a thread; the rest serve requests
MAX_CONNECTIONS = 256  # per worker; connections beyond wait in the listen backlog
GRACEFUL_TIMEOUT_S = 10
JSON_ERROR = '{"error": "%(code)d %(message)s"}'


def gunicorn_available() -> bool:
    try:
        import fcntl  # noqa: F401  (gunicorn is POSIX-only)

        import gunicorn  # noqa: F401
    except ImportError:
        return False
    return True


def serve(config: Config, server: str = "auto") -> int:
    """Serve until stopped; returns the exit status (non-zero when the start-up failed)."""
    if server == "auto":
        server = "gunicorn" if gunicorn_available() else "dev"
        if server == "dev":
            log.warning("gunicorn is not available here: using the development server")
    if server == "gunicorn":
        return serve_gunicorn(config)
    if server == "dev":
        return serve_dev(config)
    raise ValueError(f"unknown server {server!r}; use auto, gunicorn or dev")


def exit_when_start_fails(rt: Runtime, stop: Any) -> threading.Thread:
    """Watch the start-up; on failure print the reason and call `stop()`."""

    def watch() -> None:
        rt.wait_started()
        if rt.failed:
            print(f"fastlabel: error: could not start: {rt.error}", file=sys.stderr, flush=True)
            stop()

    thread = threading.Thread(target=watch, name="fastlabel-start-watch", daemon=True)
    thread.start()
    return thread


# -- gunicorn ------------------------------------------------------------------------------------


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's own error answers (bad request line, 414, 431), as JSON."""
    import orjson
    from gunicorn import util

    body = orjson.dumps({"error": f"{status_int} {reason}" + (f": {mesg}" if mesg else "")})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


def _worker_class():
    from gunicorn import util
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.gthread import ThreadWorker

    class FastLabelWorker(ThreadWorker):
        """gthread, plus: JSON error answers, a failed start-up stops the server, SIGTERM shuts sockets."""

        def load_wsgi(self) -> None:
            util.write_error = write_json_error  # this worker process only
            super().load_wsgi()
            exit_when_start_fails(runtime(self.wsgi), lambda: os._exit(Arbiter.WORKER_BOOT_ERROR))

        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            if self.wsgi is not None:  # sockets would hold the graceful stop until its timeout
                runtime(self.wsgi).hub.close_all()

    return FastLabelWorker


def _close_runtime(server, worker) -> None:
    if getattr(worker, "wsgi", None) is not None:
        runtime(worker.wsgi).close()
        worker.log.info("journal closed")


def serve_gunicorn(config: Config) -> int:
    from gunicorn.app.base import BaseApplication

    class FastLabelApplication(BaseApplication):
        def load_config(self) -> None:
            settings = {
                "bind": [f"[{config.host}]:{config.port}" if ":" in config.host else f"{config.host}:{config.port}"],
                "workers": 1, "worker_class": _worker_class(), "threads": THREADS,
                "worker_connections": MAX_CONNECTIONS, "graceful_timeout": GRACEFUL_TIMEOUT_S,
                "timeout": 120, "keepalive": 5, "accesslog": None, "errorlog": "-", "loglevel": "info",
                "proc_name": "fastlabel", "worker_exit": _close_runtime, "control_socket_disable": True,
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:  # in the worker: the session lives there
            return create_app(config)

    try:
        FastLabelApplication().run()
    except SystemExit as exc:
        return 0 if exc.code in (0, None) else 2
    return 0


# -- the development server (fallback) -----------------------------------------------------------


class JsonErrorRequestHandler(WSGIRequestHandler):
    error_message_format = JSON_ERROR
    error_content_type = "application/json"


class CappedServer(ThreadedWSGIServer):
    """Werkzeug's threaded server with at most `MAX_CONNECTIONS` connections (one thread each)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # refused: the client sees the connection closed
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            socketserver.ThreadingMixIn.process_request_thread(self, request, client_address)
        finally:
            self._slots.release()


def serve_dev(config: Config) -> int:
    app = create_app(config)
    rt = runtime(app)
    server = CappedServer(config.host, config.port, app, handler=JsonErrorRequestHandler)
    log.info("development server on %s:%s", config.host, config.port)
    failed = threading.Event()

    def stop_failed() -> None:
        failed.set()
        server.shutdown()

    exit_when_start_fails(rt, stop_failed)
    previous = signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    try:
        server.serve_forever()
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()
        rt.close()
    return 2 if failed.is_set() else 0
