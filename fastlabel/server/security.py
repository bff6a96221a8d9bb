"""Access rules: loopback needs nothing; any other bind needs the token; sockets need our Origin.

Loopback without a token also insists on a loopback Host header (so a page on another site
that rebinds its DNS name to 127.0.0.1 is refused), and every API call or socket that a
browser marks as coming from another site, or another port of this host, is refused. A call
that changes state from a browser must come from our own page (Origin, or Sec-Fetch-Site:
same-origin); clients that send neither header (scripts, curl) are not browsers and pass.
The token may travel in a URL (sockets and downloads cannot send headers), so access logs
never show it.
"""

from __future__ import annotations

import hmac
import logging
import re
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
    """False for a browser request that another site's page made (by Origin or Sec-Fetch-Site); a page on
    another port of this host is "same-site" to a browser, but another origin here."""
    return origin_ok(origin, host_header) and fetch_site not in ("cross-site", "same-site")


STATE_CHANGING_GETS = {"api.next_batch", "labels.review"}  # serving a page is recorded (a batch_served event)


def changes_state(method: str, endpoint: str | None) -> bool:
    return method not in ("GET", "HEAD", "OPTIONS") or (method == "GET" and endpoint in STATE_CHANGING_GETS)


def same_origin_change(origin: str | None, fetch_site: str | None, host_header: str | None) -> bool:
    """A change from a browser must come from our page: Sec-Fetch-Site same-origin, or (older browsers) our
    Origin. A request with neither header is not from a browser and passes."""
    if fetch_site is not None:
        return fetch_site == "same-origin"
    return origin is None or origin_ok(origin, host_header)


_TOKEN_IN_URL = re.compile(r"(?i)([?&]token=)[^&\s\"']*")


def redact(text: str) -> str:
    return _TOKEN_IN_URL.sub(r"\1[redacted]", text)


class TokenRedactor(logging.Filter):
    """Rewrites a log record's message so that no access token from a URL reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg, record.args = redact(message), None
        return True


def redact_tokens_in_access_logs() -> None:
    """Install the redactor on the access loggers of both servers (idempotent)."""
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactor) for f in logger.filters):
            logger.addFilter(TokenRedactor())


def host_header_ok(host_header: str | None, token: str | None) -> bool:
    """Without a token, only loopback names may reach the server (no DNS rebinding)."""
    if token is not None:
        return True
    try:
        name = urlparse(f"//{host_header or ''}").hostname
    except ValueError:
        return False
    return name in LOOPBACK
