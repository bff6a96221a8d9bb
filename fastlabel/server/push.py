"""WebSocket push: every open tab hears about progress and retrains, for the cards it shows."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import orjson

if TYPE_CHECKING:
    from ..session import LabelingSession, TrainPoint

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Client:
    send: Callable[[str], None]
    watched: frozenset[int] = frozenset()
    lock: threading.Lock = field(default_factory=threading.Lock)


class Hub:
    """The set of connected sockets; safe to call from any thread."""

    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._lock = threading.Lock()

    def add(self, send: Callable[[str], None]) -> Client:
        client = Client(send)
        with self._lock:
            self._clients.add(client)
        return client

    def remove(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)

    def __len__(self) -> int:
        return len(self._clients)

    def broadcast(self, message: dict[str, Any] | Callable[[Client], dict[str, Any] | None]) -> None:
        """Send a message (or one built per client) to every socket; drop sockets that fail."""
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            payload = message(client) if callable(message) else message
            if payload is None:
                continue
            try:
                with client.lock:
                    client.send(orjson.dumps(payload).decode())
            except Exception as exc:  # a closed tab must not break the others
                log.debug("dropping websocket client: %s", exc)
                self.remove(client)


def announce_retrain(hub: Hub, session: "LabelingSession", point: "TrainPoint") -> None:
    """One message per tab after a retrain: the counts, the trend's new point, the panel's
    figures, and the new probabilities of the cards that tab shows."""
    probs = session.probs
    common = {"type": "trained", "counts": session.counts(), "last_train_ms": point.train_ms,
              "history_point": point.to_dict(), "can_undo": bool(session.state.submissions),
              **session.insights()}
    hub.broadcast(lambda c: {**common, "probs": {str(i): round(float(probs[i]), 4) for i in c.watched}})
