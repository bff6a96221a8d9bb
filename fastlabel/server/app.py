"""The Flask app factory: routes, the WebSocket, static files, errors as JSON."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import orjson
from flask import Flask, jsonify, request, send_from_directory
from flask_sock import Sock
from werkzeug.exceptions import HTTPException

from ..config import Config
from ..errors import FastLabelError
from ..workspace import Workspace, open_workspace
from .routes import api
from .runtime import Runtime
from .security import needs_token, origin_ok, token_ok

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
MAX_BODY_BYTES = 2 * 1024 * 1024


def create_app(config: Config | None = None, *, loader: Callable[..., Workspace] = open_workspace,
               background: bool = True) -> Flask:
    config = config or Config()
    if needs_token(config.host) and not config.token:
        raise ValueError(f"binding to {config.host} needs an access token (--token)")
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False  # type: ignore[attr-defined]
    runtime = Runtime(config, loader)
    app.extensions["fastlabel"] = runtime
    app.register_blueprint(api)
    _register_errors(app)
    _register_access_check(app, config)
    _register_socket(app, runtime)

    @app.get("/")
    def index():
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/static/<path:name>")
    def static_file(name: str):
        return send_from_directory(STATIC_DIR, name)  # refuses paths that leave STATIC_DIR

    runtime.start(background=background)
    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(FastLabelError)
    def fastlabel_error(exc: FastLabelError):
        return jsonify({"error": str(exc)}), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"error": exc.description or exc.name}), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # never a stack trace to the client
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify({"error": "internal error; see the server log"}), 500


def _register_access_check(app: Flask, config: Config) -> None:
    @app.before_request
    def check_token():
        if config.token is None or not (request.path.startswith("/api/") or request.path == "/ws"):
            return None
        given = request.headers.get("X-FastLabel-Token") or request.args.get("token")
        if not token_ok(config.token, given):
            return jsonify({"error": "missing or wrong access token"}), 401
        return None


def _register_socket(app: Flask, runtime: Runtime) -> None:
    sock = Sock(app)

    @sock.route("/ws")
    def socket(ws):
        if not origin_ok(request.headers.get("Origin"), request.host):
            ws.close(reason=1008, message="origin not allowed")
            return
        client = runtime.hub.add(ws.send)
        try:
            with client.lock:
                if runtime.status != "ready" and runtime.progress:
                    ws.send(orjson.dumps({"type": "progress", **runtime.progress}).decode())
            while True:
                raw = ws.receive()
                if raw is None:
                    break
                _on_message(client, raw, runtime)
        finally:
            runtime.hub.remove(client)


def _on_message(client, raw: str | bytes, runtime: Runtime) -> None:
    """Messages from a tab: only {"type": "watch", "ids": [...]} is understood; the rest is ignored."""
    try:
        msg = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return
    if not isinstance(msg, dict) or msg.get("type") != "watch" or not isinstance(msg.get("ids"), list):
        return
    ids = msg["ids"][: runtime.config.max_batch_size]
    n = runtime.workspace.session.n_items if runtime.status == "ready" else 0
    client.watched = frozenset(i for i in ids if isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n)
