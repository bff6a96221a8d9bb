"""Open everything a labeling session needs from a Config: data, embeddings, journal, session."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .concepts import Concepts
from .config import Config
from .data import Attributes, ImageFolder, ImageSource, load_source, make_demo, read_attributes
from .device import pick_device
from .embeddings import Encoder, embed_source, make_encoder
from .events import EventLog
from .learner.head import use_threads, warm_up
from .session import LabelingSession
from .session.views import last_trained

log = logging.getLogger(__name__)
DEMO_GRID = "30x20"  # make_demo's default 600 faces
Progress = Callable[[str, int, int], None]


@dataclass
class Workspace:
    config: Config
    source: ImageSource
    encoder: Encoder
    embeddings: np.ndarray
    concepts: Concepts
    attributes: Attributes | None = None
    concept: str | None = None  # pinned by `for_concept`; None: whichever is current

    @property
    def session(self) -> LabelingSession:
        """The session of this workspace's concept (the current one unless pinned)."""
        return self.concepts.session(self.concept)

    def for_concept(self, name: str | None) -> "Workspace":
        """This workspace pinned to one concept (default: the current one), e.g. for one request."""
        return replace(self, concept=self.concepts.resolve(name) if name is not None else self.concepts.current)

    def item_names(self) -> list[str] | None:
        """File names for exports when the data is a folder of images."""
        if isinstance(self.source, ImageFolder):
            return [str(p) for p in self.source.paths]
        return None

    def summary(self) -> dict[str, Any]:
        """The session state the page shows."""
        s = self.session
        history = s.history()
        last = last_trained(history)
        return {
            "data": {"name": self.source.name, "n_items": s.n_items},
            "encoder": {"id": self.encoder.id, "has_text": s.has_text},
            "session": str(s.log.journal) if s.log.journal else None,
            "concept": s.state.concept,
            "query": s.state.query,
            "strategies": s.strategy_menu(),
            "counts": s.counts(),
            "last_train_ms": last.train_ms if last else None,
            "history": [p.to_dict() for p in history],
            "can_undo": bool(s.state.submissions),
            **s.insights(),
        }


def resolve_data(config: Config) -> Config:
    """With no data given, fall back to the generated demo faces (made once under home)."""
    if config.sprite or config.images:
        return config
    folder = config.home / "demo"
    sprite, attributes = folder / "sprite.png", folder / "attributes.csv"
    if not (sprite.exists() and attributes.exists()):
        make_demo(folder)
    log.info("no data given: serving the generated demo faces in %s", folder)
    return replace(config, sprite=sprite, grid=DEMO_GRID, attributes=config.attributes or attributes)


def journal_path(config: Config, data_id: str, encoder_id: str) -> Path:
    if config.session is not None:
        return Path(config.session)
    digest = hashlib.sha256(f"{data_id}|{encoder_id}".encode()).hexdigest()[:16]
    return config.sessions_dir / f"session-{digest}.jsonl"


@dataclass
class Pool:
    """The data and its embeddings, before any session."""

    config: Config
    source: ImageSource
    encoder: Encoder
    embeddings: np.ndarray
    attributes: Attributes | None


def open_pool(config: Config, progress: Progress | None = None) -> Pool:
    """Load the data and embed it, or hit the cache."""
    config = resolve_data(config)
    source = load_source(sprite=config.sprite, grid=config.grid, tile=config.tile, images=config.images)
    attributes = read_attributes(config.attributes, len(source)) if config.attributes else None
    encoder = make_encoder(config.encoder, clip_model=config.clip_model, clip_pretrained=config.clip_pretrained,
                           embeddings_path=config.embeddings, device=config.device,
                           batch_size=config.embed_batch_size)
    report = (lambda done, total: progress("embedding", done, total)) if progress else None
    embeddings = embed_source(source, encoder, config.cache_dir, progress=report)
    return Pool(config, source, encoder, embeddings, attributes)


def open_workspace(config: Config, progress: Progress | None = None) -> Workspace:
    """Open the pool, then resume the session journal (or start one)."""
    # torch's optimizer start-up runs while the data loads, not after
    threading.Thread(target=warm_up, name="fastlabel-warm-up", daemon=True).start()
    pool = open_pool(config, progress)
    use_threads()  # the embeddings exist: from here on torch runs small training fits
    data_id = pool.source.fingerprint()
    device = pick_device(config.device)

    def open_session(journal: EventLog, concept: str) -> LabelingSession:
        if progress and len(journal):
            progress("replaying", 0, len(journal))
        return LabelingSession(
            pool.embeddings, journal, text_encoder=pool.encoder if pool.encoder.has_text else None,
            seed=pool.config.seed, data_id=data_id, encoder_id=pool.encoder.id, device=device, concept=concept,
        )

    concepts = Concepts(journal_path(pool.config, data_id, pool.encoder.id), open_session, config.concept)
    concepts.session()  # the current concept is replayed before the server answers
    return Workspace(pool.config, pool.source, pool.encoder, np.asarray(pool.embeddings), concepts, pool.attributes)
