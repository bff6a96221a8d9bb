"""Sign-in and roles for a team: personal tokens, the sign-in cookie, who may do what, and slowing
down a client that keeps sending wrong tokens.

With no users the server is single-user as before (the labeler is "owner"; the optional --token
still guards it). With users every request but the page shell and the sign-in needs a personal
token: API clients send it in the X-FastLabel-Token header (or `Authorization: Bearer`); the sign-in
page posts it once and gets an HttpOnly, SameSite=Strict cookie that the page, its downloads and its
WebSocket send from then on. A token in a URL (`?token=`) is accepted for scripts and redacted from
the access log (security.TokenRedactor); no log line here ever holds a token or a cookie.
Admins create concepts, export, manage users and resolve disagreements; labelers label and review.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable

from flask import Request, g

from ..errors import Forbidden, TooManyAttempts, Unauthorized
from ..users import ADMIN, OWNER, User, UserStore

COOKIE = "fastlabel_token"
HEADER = "X-FastLabel-Token"
COOKIE_DAYS = 30
# what only an admin may call (the rest: any signed-in user): every download under /api/export/, and these
ADMIN_PATHS = ("/api/export/",)
ADMIN_ENDPOINTS = frozenset({
    "concepts.create_concept",
    "team.list_users", "team.add_user", "team.remove_user", "team.rotate_user", "team.resolve", "team.set_overlap",
})
SIGN_IN_ENDPOINTS = frozenset({"team.sign_in", "team.sign_out"})


class Throttle:
    """Wrong tokens per client: the first few are free, then each further one makes the client wait
    0.25 s, 0.5 s, 1 s ... up to `max_wait_s` before it may try again (answered 429 at once, never by
    sleeping on the request thread). Bounded: at most `max_clients` clients are remembered."""

    def __init__(self, free: int = 5, base_s: float = 0.25, max_wait_s: float = 30.0, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base_s, self.max_wait_s, self.max_clients = free, base_s, max_wait_s, max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: OrderedDict[str, tuple[int, float]] = OrderedDict()  # client -> (failures, blocked until)
        self.refused = 0  # requests answered 429

    def wait_s(self, client: str) -> float:
        """How long `client` must still wait (0: may try)."""
        with self._lock:
            _, until = self._clients.get(client, (0, 0.0))
        return max(0.0, until - self._clock())

    def failed(self, client: str) -> None:
        with self._lock:
            failures, _ = self._clients.pop(client, (0, 0.0))
            failures += 1
            extra = failures - self.free
            until = self._clock() + min(self.max_wait_s, self.base_s * 2 ** (extra - 1)) if extra > 0 else 0.0
            self._clients[client] = (failures, until)
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


def request_token(request: Request) -> str | None:
    """The token a request carries: header, bearer, cookie, or (scripts, sockets) the URL."""
    bearer = request.headers.get("Authorization", "")
    return (request.headers.get(HEADER) or (bearer[7:] if bearer.lower().startswith("bearer ") else None)
            or request.cookies.get(COOKIE) or request.args.get("token"))


class Auth:
    """The team's users, the throttle, and the checks every request passes through."""

    def __init__(self, users: UserStore, throttle: Throttle | None = None) -> None:
        self.users, self.throttle = users, throttle or Throttle()

    @property
    def team(self) -> bool:
        """Users exist: every request needs a personal token."""
        return bool(self.users)

    def sign_in(self, token: str | None, client: str) -> User:
        """The user a token names; a wrong one counts against the client, who may have to wait (429)."""
        wait = self.throttle.wait_s(client)
        if wait > 0:
            self.throttle.refused += 1
            raise TooManyAttempts(f"too many wrong tokens; try again in {wait:.1f} s")
        user = self.users.authenticate(token)
        if user is None:
            if token:
                self.throttle.failed(client)
            raise Unauthorized("sign in: a personal token is required (the X-FastLabel-Token header, "
                               "or the sign-in page)" if not token else "unknown or revoked token")
        self.throttle.succeeded(client)
        return user

    def check(self, request: Request, endpoint: str | None) -> None:
        """Who is asking (kept in `g.user`) and whether their role may call `endpoint`, on a server with
        users; raises 401/403/429."""
        user = self.sign_in(request_token(request), request.remote_addr or "?")
        g.user = user
        if (endpoint in ADMIN_ENDPOINTS or request.path.startswith(ADMIN_PATHS)) and user.role != ADMIN:
            raise Forbidden(f"{user.name} is a labeler; this needs an admin")


def current_labeler() -> str:
    """The signed-in user's name, or "owner" on a single-user server."""
    user = g.get("user")
    return user.name if user is not None else OWNER


def current_user() -> User | None:
    return g.get("user")
