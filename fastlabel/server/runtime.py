"""What the server holds: the workspace once it is loaded, the loading progress, and the hub; and
`runtime()`, the one way a route or the serving code reaches it."""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable

from flask import Flask, current_app, g, has_request_context, request

from ..config import Config
from ..errors import FastLabelError, NotReady
from ..workspace import Workspace, open_workspace
from .push import Hub, announce_retrain

log = logging.getLogger(__name__)
EXTENSION = "fastlabel"  # the key of the app's Runtime in app.extensions


class Runtime:
    def __init__(self, config: Config, loader: Callable[..., Workspace] = open_workspace) -> None:
        self.config = config
        self.hub = Hub()
        self.status = "loading"
        self.progress: dict[str, Any] | None = None
        self.error: str | None = None
        self._workspace: Workspace | None = None
        self._loader = loader
        self._ready = threading.Event()

    def start(self, background: bool = True) -> None:
        """Load data, embeddings and the session journal, off the request path."""
        if background:
            threading.Thread(target=self._load, name="fastlabel-load", daemon=True).start()
        else:
            self._load()

    def _load(self) -> None:
        try:
            self._workspace = self._loader(self.config, progress=self._on_progress)
            self._workspace.concepts.subscribe(lambda message: announce_retrain(self.hub, message))
            self.status = "ready"
            self.hub.broadcast({"type": "ready"})
        except FastLabelError as exc:
            self.status, self.error = "error", str(exc)
            log.error("could not start: %s", exc)
        except Exception as exc:  # shown on the page instead of a hung spinner
            self.status, self.error = "error", f"{type(exc).__name__}: {exc}"
            log.exception("could not start")
        finally:
            self._ready.set()
        if self.status == "ready":  # on its own thread: it may wait for the clustering index
            threading.Thread(target=self._draw_first_page, name="fastlabel-first-page", daemon=True).start()

    def _draw_first_page(self) -> None:
        """Draw the first page's cards while the browser is still on its way (a failure only costs time)."""
        try:
            self._workspace.draw_first_page()  # type: ignore[union-attr]
        except Exception:  # the page is drawn when asked instead
            log.warning("could not draw the first page ahead", exc_info=True)

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        self.progress = {"stage": stage, "done": done, "total": total}
        self.hub.broadcast({"type": "progress", **self.progress})

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout) and self.status == "ready"

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until the start-up has finished, ready or failed; False on timeout."""
        return self._ready.wait(timeout)

    @property
    def failed(self) -> bool:
        """The start-up failed (the reason is in `error`): a server should exit, not answer 503 forever."""
        return self.status == "error"

    def close(self) -> None:
        """Shut the sockets and close the journal cleanly (server shutdown)."""
        self.hub.close_all()
        if self._workspace is not None:
            self._workspace.concepts.close()

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            if self.status == "error":
                raise NotReady(f"FastLabel could not start: {self.error}")
            p = self.progress
            where = f" ({p['stage']} {p['done']}/{p['total']})" if p else ""
            raise NotReady(f"still preparing the data{where}; try again in a moment")
        if not has_request_context():
            return self._workspace
        if "workspace" not in g:  # one concept per request: ?concept=NAME, else the current one (checked here,
            g.workspace = self._workspace.for_concept(request.args.get("concept") or None)  # after the access checks)
        return g.workspace


def runtime(app: Flask | None = None) -> Runtime:
    """The app's Runtime: the current app's inside a request, else the given app's."""
    return (app or current_app).extensions[EXTENSION]
