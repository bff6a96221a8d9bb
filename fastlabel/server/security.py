"""Access rules: loopback needs nothing; any other bind needs the token; sockets need our Origin.

Loopback without a token also insists on a loopback Host header (so a page on another site
that rebinds its DNS name to 127.0.0.1 is refused), and every API call or socket that a
browser marks as coming from another site is refused.
"""

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


def same_site(origin: str | None, fetch_site: str | None, host_header: str | None) -> bool:
    """False for a browser request that another site's page made (by Origin or Sec-Fetch-Site)."""
    return origin_ok(origin, host_header) and fetch_site != "cross-site"


def host_header_ok(host_header: str | None, token: str | None) -> bool:
    """Without a token, only loopback names may reach the server (no DNS rebinding)."""
    if token is not None:
        return True
    try:
        name = urlparse(f"//{host_header or ''}").hostname
    except ValueError:
        return False
    return name in LOOPBACK
