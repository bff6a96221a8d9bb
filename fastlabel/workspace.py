"""Open everything a labeling session needs from a Config: data, embeddings, journal, session."""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import orjson

from .concepts import Concepts
from .config import Config
from .data import Attributes, ImageFolder, ImageSource, load_source, make_demo, read_attributes
from .data.media import AUDIO, check_encoder_fits, media_of
from .data.sources import TableSpec
from .device import pick_device
from .embeddings import Encoder, embed_source, encoder_from_config
from .errors import DataError
from .events import DataSource, EncoderConfig, EventLog, LabelsSubmitted
from .learner.goals import goal_menu
from .learner.head import use_threads, warm_up
from .learner.index import EmbeddingIndex
from .learner.index_cache import IndexCache
from .provenance import Recording, describe_encoder, describe_source
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

    @property
    def default_strategy(self) -> str:
        """The page's strategy when none is asked for: the one configured, else the goal's."""
        return self.config.default_strategy or self.session.goal.strategy

    def for_concept(self, name: str | None) -> "Workspace":
        """This workspace pinned to one concept (default: the current one), e.g. for one request."""
        return replace(self, concept=self.concepts.resolve(name) if name is not None else self.concepts.current)

    def item_names(self) -> list[str] | None:
        """File names for exports when the data is a folder of images."""
        if isinstance(self.source, ImageFolder):
            return [str(p) for p in self.source.paths]
        return None

    def item_name(self, item: int) -> str | None:
        """An item's file path, for a folder of images; with a manifest's id and other columns too; for a
        window of a recording, its file and times."""
        if media_of(self.source) is AUDIO:
            w = window_fields(self.source, item)
            return f"{w['file']} {w['start_s']:g}-{w['end_s']:g} s"
        describe = getattr(self.source, "describe", None)
        if describe is not None:
            return describe(item)
        return self.source.paths[item] if isinstance(self.source, ImageFolder) else None

    def warm_cards(self, ids: Sequence[int]) -> None:
        """Start drawing the cards of a list about to be answered on the source's workers, where it has
        them (a recording's window: read, resampled and drawn in a few ms), so they are drawn in
        parallel rather than one after the other as the answer is built."""
        warm = getattr(self.source, "warm_cards", None)
        if warm is not None:
            warm(ids)

    def draw_first_page(self, index_wait_s: float = 120.0) -> None:
        """Draw the cards of the page a labeler will ask for first (the default strategy, the configured
        size) ahead of the ask, as soon as the workspace is open; when the clustering index was still
        being fitted, again once it is there (the strategy's page changes with it). Blocks while it
        waits for the index: call it off the request path."""
        if not hasattr(self.source, "warm_cards"):
            return
        session = self.session
        index_was_ready = session.index.ready
        self.warm_cards(session.upcoming(self.default_strategy, self.config.batch_size))
        if not index_was_ready and session.index.wait(index_wait_s):
            self.warm_cards(session.upcoming(self.default_strategy, self.config.batch_size))

    def card_fields(self, item: int) -> dict[str, Any]:
        """What a card shows beside its picture: its name on hover; for a window of a recording, its media,
        file and start and end seconds."""
        if media_of(self.source) is AUDIO:
            return {"media": AUDIO.name, **self.source.describe(item)}  # type: ignore[attr-defined]
        name = self.item_name(item)
        return {"name": name} if name else {}

    def export_labels_jsonl(self) -> bytes:
        """The labels as JSONL; for a folder each row has its path (a window: its file, start_s and end_s),
        and "missing" when the file is gone."""
        audio = media_of(self.source) is AUDIO
        body = self.session.export_labels_jsonl(None if audio else self.item_names())
        if not audio and not isinstance(self.source, ImageFolder):
            return body
        rows = [orjson.loads(line) for line in body.splitlines()]
        return b"".join(orjson.dumps(self._placed(row)) + b"\n" for row in rows)

    def predictions(self) -> dict[str, Any]:
        """A label for every served item (and every labeled one), with paths for a folder of images and
        file, start_s and end_s for windows of recordings."""
        body = self.session.predictions()
        if isinstance(self.source, ImageFolder) or media_of(self.source) is AUDIO:
            available = self.source.available()
            body["items"] = [self._placed(item) for item in body["items"]
                             if available[item["id"]] or item["source"] == "human"]
        return body

    def _placed(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row with where its item is (a path; a window's file and times), marked when the file is gone."""
        if media_of(self.source) is AUDIO:
            row = {**row, **window_fields(self.source, row["id"])}
            present = self.source.file_record(row["id"]).present  # type: ignore[attr-defined]
        else:
            assert isinstance(self.source, ImageFolder)
            row = {**row, "path": self.source.paths[row["id"]]}
            present = self.source.record(row["id"]).present
        if not present:
            row["missing"] = True
        return row

    def summary(self) -> dict[str, Any]:
        """The session state the page shows."""
        s = self.session
        history = s.history()
        last = last_trained(history)
        return {
            "data": {"name": self.source.name, "n_items": s.n_items,
                     "available": int(self.source.available().sum()), **media_summary(self.source)},
            **folder_summary(self.source, s),
            "encoder": {"id": self.encoder.id, "has_text": s.has_text},
            "session": str(s.log.journal) if s.log.journal else None,
            "concept": s.state.concept,
            "query": s.state.query,
            "strategies": s.strategy_menu(),
            "goal": s.goal.name,
            "goals": goal_menu(),
            "counts": s.counts(),
            "last_train_ms": last.train_ms if last else None,
            "history": [p.to_dict() for p in history],
            "can_undo": bool(s.state.submissions),
            **s.insights(),
        }


def window_fields(source: Any, item: int) -> dict[str, Any]:
    """Where a window of a recording is: its file (relative to the folder), start_s and end_s."""
    where = source.describe(item)
    return {"file": where["name"], "start_s": where["start_s"], "end_s": where["end_s"]}


def media_summary(source: ImageSource) -> dict[str, Any]:
    """What the page needs to know of the items: their media, and for recordings how they are cut."""
    kind = media_of(source)
    if kind is not AUDIO:
        return {"media": kind.name}
    return {"media": kind.name, "window_s": source.window_s, "hop_s": source.hop_s,  # type: ignore[attr-defined]
            "sample_rate": source.sample_rate}  # type: ignore[attr-defined]


def folder_summary(source: ImageSource, session: LabelingSession) -> dict[str, Any]:
    """Files left out (with why), what changed in the folder since the last start, and labels given
    to files whose content has changed since (to look at again). For a folder of images or recordings."""
    changes = getattr(source, "changes", None)
    if changes is None:
        return {"skipped": []}
    return {
        "skipped": [{"path": path, "reason": reason} for path, reason in source.skipped],  # type: ignore[attr-defined]
        "folder_changes": {"new": len(changes.new), "changed": len(changes.changed),
                           "removed": len(changes.removed), "summary": changes.summary(),
                           "first_start": len(changes.new) == len(source.registry)},  # type: ignore[attr-defined]
        "review": labels_to_review(source, session),
    }


def labels_to_review(source: Any, session: LabelingSession) -> list[dict[str, Any]]:
    """Labeled items whose file changed after the label was given: the label may no longer fit
    (every labeled window of a recording that changed)."""
    labels = session.state.labels
    audio = media_of(source) is AUDIO
    record = source.file_record if audio else source.record
    changed = {i: at for i in labels if (at := record(i).changed_at) is not None}
    if not changed:
        return []
    when = {e.seq: e.ts for e in session.log.events if isinstance(e, LabelsSubmitted)}
    given: dict[int, float] = {}
    for sub in session.state.submissions:
        for item, _ in sub.labels:
            given[item] = when.get(sub.seq, 0.0)
    place = (lambda i: window_fields(source, i)) if audio else (lambda i: {"path": source.paths[i]})
    return [{"id": i, **place(i), "label": labels[i]} for i in sorted(changed) if given.get(i, 0.0) < changed[i]]


def resolve_data(config: Config) -> Config:
    """With no data given, fall back to the generated demo faces (made once under home)."""
    if config.has_data:
        return config
    folder = config.home / "demo"
    sprite, attributes = folder / "sprite.png", folder / "attributes.csv"
    if not (sprite.exists() and attributes.exists()):
        make_demo(folder)
    log.info("no data given: serving the generated demo faces in %s", folder)
    return replace(config, sprite=sprite, grid=DEMO_GRID, attributes=config.attributes or attributes)


def table_spec(config: Config) -> TableSpec:
    """The Config's manifest or dataset settings, for load_source."""
    return TableSpec(manifest=config.manifest, path_column=config.path_column, id_column=config.id_column,
                     hf_dataset=config.hf_dataset, image_column=config.image_column, split=config.hf_split,
                     cache_dir=config.cache_dir / "hf")


def journal_path(config: Config, data_id: str, encoder_id: str) -> Path:
    if config.session is not None:
        return Path(config.session)
    digest = hashlib.sha256(f"{data_id}|{encoder_id}".encode()).hexdigest()[:16]
    return config.sessions_dir / f"session-{digest}.jsonl"


@dataclass
class EmbeddedData:
    """The data and its embeddings, before any session."""

    config: Config
    source: ImageSource
    encoder: Encoder
    embeddings: np.ndarray
    attributes: Attributes | None
    data_source: DataSource  # the data as given, for the journal
    encoder_config: EncoderConfig  # what builds the encoder again, for the journal


def source_options(config: Config, encoder: Encoder | None = None) -> dict[str, Any]:
    """load_source's arguments for the config's data. Recordings are cut to the encoder's input (its
    window length and sample rate) unless the config gives a window."""
    return {"sprite": config.sprite, "grid": config.grid, "tile": config.tile, "images": config.images,
            "registry_dir": config.home / "folders", "audio": config.audio,
            "window_s": config.window_s or getattr(encoder, "window_s", None), "hop_s": config.hop_s,
            "sample_rate": getattr(encoder, "sample_rate", None), "table": table_spec(config)}


def open_source_and_encoder(config: Config, recording: Recording | None = None) -> tuple[ImageSource, Encoder]:
    """The config's data source and an encoder that accepts its media. Recordings need the encoder
    first (its input decides the windows); images open first, so a bad folder fails before a model loads.
    With the `recording` of a journal, each must be the one it was recorded on."""

    def source(encoder: Encoder | None = None) -> ImageSource:
        try:
            opened = load_source(**source_options(config, encoder))
        except DataError as error:
            raise (recording.open_failed(error) if recording is not None else error) from None
        if recording is not None:
            recording.check_source(opened)
        return opened

    def encoder() -> Encoder:
        if recording is not None:
            recording.check_can_build_encoder()
        built = encoder_from_config(config)
        if recording is not None:
            recording.check_encoder(built)
        return built

    if config.media == "image":
        opened = source()
        built = encoder()
    else:
        built = encoder()
        opened = source(built)
    check_encoder_fits(built, opened)
    return opened, built


def open_pool(config: Config, progress: Progress | None = None, recording: Recording | None = None) -> EmbeddedData:
    """Load the data and embed it, or hit the cache. With the `recording` of a journal, the data and
    the encoder must be the ones it was recorded on (checked before anything is embedded)."""
    given = config
    config = resolve_data(config)
    source, encoder = open_source_and_encoder(config, recording)
    attributes = read_attributes(config.attributes, len(source)) if config.attributes else None
    report = (lambda done, total: progress("embedding", done, total)) if progress else None
    embeddings = embed_source(source, encoder, config.cache_dir, progress=report)
    if not source.available().any():  # every file failed to decode
        reasons = "; ".join(f"{path} ({why})" for path, why in getattr(source, "skipped", []))
        raise DataError(f"none of the {media_of(source).noun}s of {source.name} could be decoded: {reasons}")
    return EmbeddedData(config, source, encoder, embeddings, attributes, describe_source(given, source),
                        describe_encoder(config, encoder))


def item_space(source: ImageSource) -> dict[str, Any]:
    """The session's view of the ids: which are served now, and whether new ones may appear (a source
    whose ids are kept in a registry: folders of images or recordings, manifests)."""
    return {"available": source.available(), "ids_may_grow": getattr(source, "registry", None) is not None}


def open_workspace(config: Config, progress: Progress | None = None) -> Workspace:
    """Open the pool, then resume the session journal (or start one)."""
    pool = open_pool(config, progress)
    # torch's optimizer start-up runs while the journal replays; not while embedding, whose forward pass
    # wants every core
    threading.Thread(target=warm_up, name="fastlabel-warm-up", daemon=True).start()
    use_threads()  # the embeddings exist: from here on torch runs small training fits
    data_id = pool.source.fingerprint()
    # the clustering and neighbour index: loaded from beside the embeddings, or fitted in the background;
    # one index for every concept, since they share the embeddings
    index = EmbeddingIndex(pool.embeddings, cache=IndexCache.beside(pool.config.cache_dir, data_id, pool.encoder.id))
    index.start()
    device = pick_device(config.device)

    def open_session(journal: EventLog, concept: str) -> LabelingSession:
        if progress and len(journal) and not started:  # the start's own replay; later ones are quiet
            progress("replaying", 0, len(journal))
        return LabelingSession(
            pool.embeddings, journal, text_encoder=pool.encoder if pool.encoder.has_text else None,
            seed=pool.config.seed, data_id=data_id, encoder_id=pool.encoder.id, device=device,
            **item_space(pool.source), concept=concept, index=index, goal=config.goal,
            data_source=pool.data_source, encoder_config=pool.encoder_config, overlap_per_page=config.overlap_per_page,
            lease_s=config.lease_minutes * 60, flag_below_kappa=config.flag_below_kappa,
        )

    started: list[bool] = []
    concepts = Concepts(journal_path(pool.config, data_id, pool.encoder.id), open_session, config.concept)
    concepts.session()  # the current concept is replayed before the server answers, the others after
    started.append(True)
    concepts.open_all_in_background()
    return Workspace(pool.config, pool.source, pool.encoder, np.asarray(pool.embeddings), concepts, pool.attributes)
