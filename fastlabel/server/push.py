"""WebSocket push: every open tab hears about progress and retrains, for the cards it shows.

A request never writes to a socket itself: `broadcast` only puts the message in each socket's
small queue, and one sender thread per socket writes it out. Each message carries the whole news
for its tab (the watched cards' probabilities, the counts), so when a queue is full its oldest
message is dropped for the new one. A tab whose send has been stuck for `send_timeout` seconds
(it stopped reading) is dropped: its socket is shut and the page reconnects. It never holds up
a submit or another tab.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Callable

import orjson

from ..users import OWNER

if TYPE_CHECKING:
    from ..session import Retrained

log = logging.getLogger(__name__)
QUEUE_SIZE = 16  # messages waiting per socket; beyond, the oldest is dropped
SEND_TIMEOUT_S = 2.0
MAX_SOCKETS = 64


class Client:
    """One socket: what it watches, its outgoing queue and the thread that drains it."""

    def __init__(self, send: Callable[[str], None], close: Callable[[], None], on_dead: Callable[["Client"], None],
                 queue_size: int = QUEUE_SIZE) -> None:
        self.send, self.close = send, close
        self.watched: frozenset[int] = frozenset()
        self.labeler = OWNER  # who signed the tab in (app.py sets it)
        self._queue: queue.Queue[str | None] = queue.Queue(queue_size)
        self._on_dead = on_dead
        self.sending_since: float | None = None  # monotonic time the send in progress began
        self.closed = False
        self._thread = threading.Thread(target=self._drain, name="fastlabel-push", daemon=True)
        self._thread.start()

    def offer(self, text: str) -> None:
        """Queue a message; when the queue is full, the oldest waiting message makes room."""
        while not self.closed:
            try:
                self._queue.put_nowait(text)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()  # superseded by the newer message
                except queue.Empty:
                    pass

    def stalled(self, now: float, timeout: float) -> bool:
        started = self.sending_since
        return started is not None and now - started > timeout

    def _drain(self) -> None:
        while True:
            text = self._queue.get()
            if text is None or self.closed:
                return
            self.sending_since = time.monotonic()
            try:
                self.send(text)
            except Exception as exc:  # a closed tab
                log.debug("websocket send failed: %s", exc)
                self._on_dead(self)
                return
            finally:
                self.sending_since = None

    def shut(self) -> None:
        """Stop the sender and shut the socket (which also ends a send stuck on it)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass  # the sender sees `closed` after its current message
        try:
            self.close()
        except Exception as exc:
            log.debug("closing a websocket failed: %s", exc)


class Hub:
    """The set of connected sockets; safe to call from any thread."""

    def __init__(self, max_sockets: int = MAX_SOCKETS, send_timeout: float = SEND_TIMEOUT_S,
                 queue_size: int = QUEUE_SIZE) -> None:
        self._clients: set[Client] = set()
        self._lock = threading.Lock()
        self.max_sockets, self.send_timeout, self.queue_size = max_sockets, send_timeout, queue_size
        self.dropped = 0  # sockets dropped for not reading

    def full(self) -> bool:
        return len(self._clients) >= self.max_sockets

    def open_for(self, labeler: str) -> bool:
        """Whether `labeler` still has a tab open."""
        with self._lock:
            return any(c.labeler == labeler for c in self._clients)

    def add(self, send: Callable[[str], None], close: Callable[[], None] = lambda: None,
            labeler: str = OWNER) -> Client:
        client = Client(send, close, self._dead, self.queue_size)
        client.labeler = labeler
        with self._lock:
            self._clients.add(client)
        return client

    def remove(self, client: Client) -> None:
        with self._lock:
            self._clients.discard(client)
        client.shut()

    def _dead(self, client: Client) -> None:
        self.remove(client)

    def __len__(self) -> int:
        return len(self._clients)

    def broadcast(self, message: dict[str, Any] | Callable[[Client], dict[str, Any] | None]) -> None:
        """Queue a message (or one built per client) for every socket; never waits on a socket."""
        with self._lock:
            clients = list(self._clients)
        now = time.monotonic()
        for client in clients:
            payload = message(client) if callable(message) else message
            if payload is None:
                continue
            if client.stalled(now, self.send_timeout):
                log.warning("dropping a websocket that stopped reading")
                self.dropped += 1
                self.remove(client)
                continue
            client.offer(orjson.dumps(payload).decode())

    def send_to(self, client: Client, message: dict[str, Any]) -> None:
        client.offer(orjson.dumps(message).decode())

    def close_all(self) -> None:
        """Shut every socket (server shutdown): their handlers return, the pages reconnect later."""
        with self._lock:
            clients = list(self._clients)
            self._clients.clear()
        for client in clients:
            client.shut()


def announce_retrain(hub: Hub, message: "Retrained") -> None:
    """One message per tab after a retrain: the counts, the trend's new point, the panel's figures,
    and the new probabilities of the cards that tab shows; all from the retrain's message."""
    try:
        common = {"type": "trained", "concept": message.concept, "counts": message.counts,
                  "last_train_ms": message.point.train_ms, "history_point": message.point.to_dict(),
                  "by": message.by, **message.insights}
        hub.broadcast(lambda c: {**common, "can_undo": c.labeler in message.undoable,  # undo takes back one's own
                                 "probs": message.probs_of(sorted(c.watched))})
    except Exception:  # the change is saved and answered whatever happens to its announcement
        log.exception("could not announce a retrain")
