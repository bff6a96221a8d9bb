"""The users of a home: names, roles and personal tokens, kept hashed in `<home>/users.json`.

No users means one person labels alone, as "owner" (the name every label given before there were
users belongs to). Once a user exists, every request needs a personal token. A token is
`fl_<key id>_<secret>`: the key id finds the user, and only a salted scrypt hash of the secret is
stored, so the file never holds a token. Checking scrypt costs tens of milliseconds, so a token that
checked once is remembered, under a keyed hash, for as long as its user's hash stays the same
(rotating or removing the user forgets it). The file is read again whenever it changes on disk, so
`fastlabel users add` takes effect on a running server.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from .errors import InvalidInput, UnknownUser, UserExists
from .files import write_atomic

OWNER = "owner"  # the labeler of a home without users, and of every event written before users existed
ADMIN, LABELER = "admin", "labeler"
ROLES = (ADMIN, LABELER)
MAX_NAME_CHARS = 32
USERS_FILE = "users.json"
TOKEN_PREFIX = "fl"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def check_user_name(raw: Any) -> str:
    """A user name: 1-32 letters, digits, '-', '_' or '.', starting with a letter or digit."""
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_NAME_CHARS or not raw[0].isalnum() \
            or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in raw):
        raise InvalidInput(f"a user name is 1-{MAX_NAME_CHARS} ASCII letters, digits, '-', '_' or '.', "
                           f"starting with a letter or digit; got {str(raw)[:40]!r}")
    return raw


@dataclass(frozen=True)
class User:
    name: str
    role: str
    key_id: str  # public: finds the user from a token
    salt: str  # hex
    hash: str  # hex scrypt of the token's secret
    created: float

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def public(self) -> dict[str, Any]:
        """What may be shown: never the salt or the hash."""
        return {"name": self.name, "role": self.role, "created": self.created}


def hash_secret(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT).hex()


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _new_credentials() -> tuple[str, str, str, str]:
    """(token, key id, salt hex, hash hex) for a fresh token."""
    key_id, secret, salt = secrets.token_hex(4), secrets.token_urlsafe(24), secrets.token_bytes(16)
    return f"{TOKEN_PREFIX}_{key_id}_{secret}", key_id, salt.hex(), hash_secret(secret, salt)


class UserStore:
    """The users of one home; thread-safe, re-read when the file changes."""

    def __init__(self, home: Path) -> None:
        self.path = Path(home) / USERS_FILE
        self._lock = threading.Lock()
        self._users: dict[str, User] = {}
        self._stamp: tuple[int, int] | None = None
        self._cache_key = secrets.token_bytes(32)  # remembered tokens are keyed by this process's secret
        self._checked: dict[bytes, tuple[str, str]] = {}  # keyed token digest -> (name, hash it matched)

    # -- reading ------------------------------------------------------------------------------
    def _refresh(self) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._users, self._stamp = {}, None
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            raw = orjson.loads(self.path.read_bytes())
            users = {u["name"]: User(**u) for u in raw["users"]}
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{self.path} is not a FastLabel user list ({exc}); fix or remove it") from None
        self._users, self._stamp = users, stamp

    def users(self) -> list[User]:
        with self._lock:
            self._refresh()
            return sorted(self._users.values(), key=lambda u: u.name)

    def __bool__(self) -> bool:
        with self._lock:
            self._refresh()
            return bool(self._users)

    def get(self, name: str) -> User | None:
        with self._lock:
            self._refresh()
            return self._users.get(name)

    def authenticate(self, token: str | None) -> User | None:
        """The user a personal token belongs to, or None."""
        if not token or len(token) > 200:
            return None
        parts = split_token(token)
        if parts is None:
            return None
        digest = hmac.new(self._cache_key, token.encode(), hashlib.sha256).digest()
        with self._lock:
            self._refresh()
            user = next((u for u in self._users.values() if u.key_id == parts[0]), None)
            if user is None:
                return None
            remembered = self._checked.get(digest)
            if remembered == (user.name, user.hash):
                return user
        if not hmac.compare_digest(hash_secret(parts[1], bytes.fromhex(user.salt)), user.hash):
            return None
        with self._lock:
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[digest] = (user.name, user.hash)
        return user

    # -- changing -----------------------------------------------------------------------------
    def _save(self) -> None:
        write_atomic(self.path, orjson.dumps({"users": [asdict(u) for u in self._users.values()]},
                                             option=orjson.OPT_INDENT_2))
        self._stamp = None  # read back on next use

    def add(self, name: str, *, admin: bool = False) -> str:
        """Add a user; returns their token (shown once: only its hash is kept)."""
        name = check_user_name(name)
        with self._lock:
            self._refresh()
            if name in self._users:
                raise UserExists(f"a user named {name!r} exists; `fastlabel users rotate {name}` gives a new token")
            token, key_id, salt, digest = _new_credentials()
            self._users[name] = User(name, ADMIN if admin else LABELER, key_id, salt, digest, round(time.time(), 3))
            self._save()
            return token

    def rotate(self, name: str) -> str:
        """A new token for a user; the old one stops working at once."""
        with self._lock:
            self._refresh()
            user = self._users.get(name)
            if user is None:
                raise UnknownUser(f"no user named {name!r}")
            token, key_id, salt, digest = _new_credentials()
            self._users[name] = User(name, user.role, key_id, salt, digest, user.created)
            self._save()
            return token

    def remove(self, name: str) -> None:
        """Remove a user (their labels stay in the journals, under their name)."""
        with self._lock:
            self._refresh()
            if self._users.pop(name, None) is None:
                raise UnknownUser(f"no user named {name!r}")
            self._save()
