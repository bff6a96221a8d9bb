"""The Flask app factory: routes, the WebSocket, static files, errors as JSON."""

from __future__ import annotations

import logging
import socket as socket_module
from pathlib import Path
from typing import Callable

import orjson
from flask import Flask, jsonify, redirect, request, send_from_directory
from flask_sock import Sock
from werkzeug.exceptions import HTTPException
from wsproto.utilities import RemoteProtocolError

from ..config import Config
from ..errors import FastLabelError
from ..users import UserStore
from ..workspace import Workspace, open_workspace
from .auth import COOKIE, SIGN_IN_ENDPOINTS, Auth, current_labeler
from .concepts import concepts
from .labels import labels
from .media import media
from .models import models
from .routes import api
from .runtime import EXTENSION, Runtime
from .security import (
    changes_state,
    host_header_ok,
    needs_token,
    redact_tokens_in_access_logs,
    same_origin_change,
    same_site,
    token_ok,
)
from .similar import similar_api
from .team import team

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_SOCKET_MESSAGE_BYTES = 64 * 1024  # a "watch" of max_batch_size ids is ~2 KB
SOCKET_SEND_BUFFER = 128 * 1024  # about 40 pushes of 200 watched cards
PUBLIC_ENDPOINTS = {"index", "static_file", "sign_in_page"}  # the page itself; everything else is guarded


def create_app(config: Config | None = None, *, loader: Callable[..., Workspace] = open_workspace,
               background: bool = True) -> Flask:
    config = config or Config()
    auth = Auth(UserStore(config.home))
    if needs_token(config.host) and not config.token and not auth.team:
        raise ValueError(f"binding to {config.host} needs an access token (--token) or users (fastlabel users add)")
    redact_tokens_in_access_logs()
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["SOCK_SERVER_OPTIONS"] = {"max_message_size": MAX_SOCKET_MESSAGE_BYTES}
    app.json.sort_keys = False  # type: ignore[attr-defined]
    runtime = Runtime(config, loader)
    app.extensions[EXTENSION] = runtime
    app.extensions["fastlabel.auth"] = auth
    app.register_blueprint(api)
    app.register_blueprint(models)
    app.register_blueprint(concepts)
    app.register_blueprint(labels)
    app.register_blueprint(media)
    app.register_blueprint(similar_api)
    app.register_blueprint(team)
    _register_errors(app)
    _register_access_check(app, config, runtime, auth)
    _register_socket(app, runtime)

    @app.get("/")
    def index():
        if auth.team and auth.users.authenticate(request.cookies.get(COOKIE)) is None:
            return redirect("/signin")  # a wrong cookie is not counted: the sign-in page counts tries
        return send_from_directory(STATIC_DIR, "index.html")

    @app.get("/signin")
    def sign_in_page():
        return send_from_directory(STATIC_DIR, "signin.html")

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

    @app.errorhandler(RemoteProtocolError)
    def bad_handshake(exc: RemoteProtocolError):  # e.g. a socket upgrade without Sec-WebSocket-Version
        return jsonify({"error": f"bad WebSocket handshake: {exc}"}), 400

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # never a stack trace to the client
        log.exception("unexpected error on %s %s", request.method, request.path)
        return jsonify({"error": "internal error; see the server log"}), 500


def _register_access_check(app: Flask, config: Config, runtime: Runtime, auth: Auth) -> None:
    """Runs before every route, the WebSocket handshake included, so a refusal never opens a socket."""

    @app.before_request
    def check_access():
        if (request.content_length or 0) > MAX_BODY_BYTES:  # even where the route would not read the body
            return jsonify({"error": f"request body over {MAX_BODY_BYTES} bytes"}), 413
        team = auth.team  # users exist: a stat of their file, read once per request
        if not host_header_ok(request.host, config.token or ("users" if team else None)):
            return jsonify({"error": "this server answers loopback names only (127.0.0.1, localhost); "
                                     "serve with --host and --token to reach it by other names"}), 403
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        origin, fetch_site = request.headers.get("Origin"), request.headers.get("Sec-Fetch-Site")
        if not same_site(origin, fetch_site, request.host):
            return jsonify({"error": "requests from other sites are refused"}), 403
        if changes_state(request.method, request.endpoint) and not same_origin_change(origin, fetch_site, request.host):
            return jsonify({"error": "changes must come from this server's own page"}), 403
        if request.endpoint in SIGN_IN_ENDPOINTS:  # the sign-in checks (and throttles) the token itself
            return None
        if team:
            auth.check(request, request.endpoint)  # 401, 403 or 429, answered as JSON
        else:
            given = request.headers.get("X-FastLabel-Token") or request.args.get("token")
            if not token_ok(config.token, given):
                return jsonify({"error": "missing or wrong access token"}), 401
        if request.endpoint == "socket" and runtime.hub.full():
            return jsonify({"error": f"too many open sockets (at most {runtime.hub.max_sockets}); "
                                     "close some tabs"}), 503
        return None


def _register_socket(app: Flask, runtime: Runtime) -> None:
    sock = Sock(app)

    @sock.route("/ws")
    def socket(ws):  # Origin, token and the socket cap are checked before the handshake (check_access)
        try:  # bounds the kernel memory a tab that stops reading can pin (else up to ~4 MB on Linux)
            ws.sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_SNDBUF, SOCKET_SEND_BUFFER)
        except (OSError, AttributeError):
            pass
        labeler = current_labeler()
        client = runtime.hub.add(ws.send, lambda: shut_socket(ws), labeler)
        try:
            if runtime.status != "ready" and runtime.progress:
                runtime.hub.send_to(client, {"type": "progress", **runtime.progress})
            while not client.closed:
                raw = ws.receive()
                if raw is None:
                    break
                _on_message(client, raw, runtime)
        finally:
            runtime.hub.remove(client)
            if runtime.status == "ready" and not runtime.hub.open_for(labeler):  # their last tab closed
                runtime.workspace.concepts.release_leases(labeler)


def shut_socket(ws) -> None:
    """End a socket from another thread, even one whose send is stuck on a peer that stopped reading."""
    try:
        ws.sock.shutdown(socket_module.SHUT_RDWR)
    except OSError:
        pass  # already closed


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
    if n:  # a tab showing its cards is activity: its labeler's leases are renewed
        runtime.workspace.session.leases.renew(client.labeler)
