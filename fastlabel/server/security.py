"""Access rules: loopback needs nothing; any other bind needs the token; sockets need our Origin."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlparse

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def needs_token(host: str) -> bool:
    return host not in LOOPBACK


def new_token() -> str:
    return secrets.token_urlsafe(18)


def token_ok(expected: str | None, given: str | None) -> bool:
    if expected is None:
        return True
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def origin_ok(origin: str | None, host_header: str | None) -> bool:
    """A browser socket must come from a page this server served (same host:port)."""
    if origin is None:  # non-browser clients send no Origin
        return True
    return bool(host_header) and urlparse(origin).netloc == host_header
