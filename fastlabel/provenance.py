"""Where a session's data and encoder came from: described for its `session_started` event, and
turned back into settings, so a command given only the journal opens the same pool.

Flags still win, field by field (a moved sprite, a checkpoint at a new path), but the pool they
open must be the one recorded: the same data fingerprint and the same encoder id, or the command
stops and says so. A journal written before sources were recorded has only the fingerprint and
the encoder id; from those the encoder is read back where its id says enough, the generated demo
is recognised by its fingerprint, and otherwise the error names the flags to add.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .config import Config
from .data import ImageSource, SpriteSheet
from .embeddings import Encoder
from .errors import DataError, InvalidInput
from .events import DataSource, EncoderConfig, SessionStarted, event_from_dict

log = logging.getLogger(__name__)

# a source's kind, the Config field holding its location, and the fields recorded beside it
LOCATIONS = {"sprite": "sprite", "folder": "images", "manifest": "manifest", "hf_dataset": "hf_dataset",
             "audio": "audio"}
EXTRAS = {"sprite": {"grid": "grid", "tile": "tile"},
          "manifest": {"path_column": "path_column", "id_column": "id_column"},
          "hf_dataset": {"image_column": "image_column", "split": "hf_split"},
          "audio": {"window": "window_s", "hop": "hop_s"}}
FLAGS = {"sprite": "--sprite SPRITE.png", "folder": "--images FOLDER", "manifest": "--manifest TABLE",
         "hf_dataset": "--hf-dataset DATASET", "audio": "--audio FOLDER"}
# a data fingerprint's prefix: the kind of source it names
FINGERPRINT_KINDS = {"folder": "folder", "manifest": "manifest", "hf-dataset": "hf_dataset", "audio": "audio"}
PREDATES = "this journal predates recorded data sources"


def recorded_start(journal: Path) -> SessionStarted | None:
    """The `session_started` a journal opens with, read from its first line alone; None when the
    file does not exist yet or does not start with one (its own load reports what is wrong)."""
    try:
        with open(journal, "rb") as handle:
            first = event_from_dict(orjson.loads(handle.readline()))
    except (OSError, ValueError, InvalidInput):
        return None
    return first if isinstance(first, SessionStarted) else None


def describe_source(config: Config, source: ImageSource) -> DataSource:
    """The data as the user gave it (`config` before the demo fallback fills it in)."""
    kind = next((k for k, field in LOCATIONS.items() if getattr(config, field) is not None), "demo")
    extras = {name: getattr(config, field) for name, field in EXTRAS.get(kind, {}).items()}
    if kind == "audio":  # the windows the recordings were cut into (the encoder's input, unless given)
        extras.update(window=getattr(source, "window_s", config.window_s), hop=getattr(source, "hop_s", config.hop_s))
    if isinstance(source, SpriteSheet):
        extras = {"grid": f"{source.cols}x{source.rows}", "tile": source.tile}  # the grid it was read with
    registry = getattr(source, "registry", None)  # folders, manifests, datasets, recordings: ids kept in one
    if registry is not None:
        extras["folder_id"] = registry.folder_id
    location = getattr(config, LOCATIONS[kind]) if kind in LOCATIONS else ""
    return DataSource(kind, str(location), **extras)


def describe_encoder(config: Config, encoder: Encoder) -> EncoderConfig:
    """What builds `encoder` again: `auto` is recorded as the encoder it chose."""
    kind = encoder.id.split(":", 1)[0]
    if kind == "clip":
        return EncoderConfig("clip", model=getattr(encoder, "model_name", config.clip_model),
                             pretrained=getattr(encoder, "pretrained", config.clip_pretrained))
    if kind == "imagenet":
        return EncoderConfig("imagenet", input_size=getattr(encoder, "input_size", config.embed_input_size))
    if kind in ("precomputed", "shards"):
        return EncoderConfig("precomputed", embeddings=str(config.embeddings))
    return EncoderConfig(kind)


def source_settings(source: DataSource, *, location: bool = True) -> dict[str, Any]:
    """The Config data fields that open a recorded source again (none for the demo); without its
    location when a flag gives that anew."""
    if source.kind == "demo":
        return {}
    if source.kind not in LOCATIONS:
        raise DataError(f"the session's data is a {source.kind} source, which this FastLabel cannot open; "
                        "upgrade FastLabel, or give the data with --sprite, --images or --manifest")
    settings = {field: getattr(source, name) for name, field in EXTRAS.get(source.kind, {}).items()}
    if location:
        settings[LOCATIONS[source.kind]] = Path(source.location)
    return {k: v for k, v in settings.items() if v is not None}


def encoder_settings(config: EncoderConfig) -> dict[str, Any]:
    """The Config encoder fields that build a recorded encoder again."""
    settings = {"encoder": config.kind, "clip_model": config.model, "clip_pretrained": config.pretrained,
                "embed_input_size": config.input_size,
                "embeddings": Path(config.embeddings) if config.embeddings else None}
    return {k: v for k, v in settings.items() if v is not None}


def settings_from_encoder_id(encoder_id: str) -> dict[str, Any] | None:
    """The encoder settings an id alone pins down (pixels, imagenet, clip with a pretrained tag);
    None where it names a file only by its hash, or weights no one can load again."""
    kind, _, rest = encoder_id.partition(":")
    if kind == "pixels":
        return {"encoder": "pixels"}
    if kind == "imagenet":
        _, _, size = rest.partition("@")
        return {"encoder": "imagenet", **({"embed_input_size": int(size[:-2])} if size.endswith("px") else {})}
    if kind == "clip":
        model, _, tag = rest.rpartition(":")
        if model and tag and not tag.startswith(("sha256-", "random-")):
            return {"encoder": "clip", "clip_model": model, "clip_pretrained": tag}
    return None


def recorded_settings(started: SessionStarted, flags: dict[str, Any]) -> dict[str, Any]:
    """Config fields for a recorded session: every flag given (not None) wins; the rest come from
    the journal. A source of the recorded kind given anew (a moved sprite) keeps the recorded grid,
    tile or columns unless they are given too; another kind of source, or of encoder, takes none
    of the recorded one's settings."""
    given = {k: v for k, v in flags.items() if v is not None}
    recorded_source = started.source
    data: dict[str, Any] = {}
    if recorded_source is not None:
        anew = [kind for kind, field in LOCATIONS.items() if field in given]
        if not anew:
            data = source_settings(recorded_source)
        elif anew == [recorded_source.kind]:  # the same kind of source, moved: its other settings hold
            data = source_settings(recorded_source, location=False)
    if started.encoder_config is not None:
        encoder = encoder_settings(started.encoder_config)
    else:
        encoder = settings_from_encoder_id(started.encoder) or {}
    if given.get("encoder", encoder.get("encoder")) != encoder.get("encoder"):
        encoder = {}
    return {k: v for k, v in {**data, **encoder, **given}.items() if v is not None}


def encoder_flags(encoder_id: str) -> str:
    """The flags that build the encoder of this id, with a placeholder for a file known by its hash."""
    kind, _, rest = encoder_id.partition(":")
    settings = settings_from_encoder_id(encoder_id)
    if settings is not None:
        names = {"encoder": "--encoder", "clip_model": "--clip-model", "clip_pretrained": "--clip-pretrained",
                 "embed_input_size": "--input-size"}
        return " ".join(f"{names[k]} {v}" for k, v in settings.items())
    if kind == "clip":
        model, _, tag = rest.rpartition(":")
        if tag.startswith("sha256-"):
            return f"--encoder clip --clip-model {model} --clip-pretrained CHECKPOINT (the file with sha256 {tag[7:23]}...)"
        return f"--encoder clip --clip-model {model} (its random weights cannot be made again: the model will differ)"
    if kind == "precomputed":
        return f"--encoder precomputed --embeddings FILE.npy (the file with {rest[:23]}...)"
    if kind == "shards":
        recorded, _, digest = rest.rpartition(":")
        return f"--embeddings SHARD_FOLDER (the shards of {recorded or 'an unknown encoder'}, {digest[:23]}...)"
    return f"--encoder {kind}"


def data_flags(started: SessionStarted) -> str:
    """The flags that name the recorded data, with placeholders and the fingerprint to match."""
    prefix, _, registry = started.data.partition(":")
    kind = FINGERPRINT_KINDS.get(prefix)
    if kind is not None:
        return f"{FLAGS[kind]} (whose item registry is {registry[:16]}...)"
    return (f"{FLAGS['sprite']} --grid COLSxROWS --tile PX (the {started.n_items} tiles "
            f"whose data fingerprint is {started.data[:16]}...)")


def recorded_source_text(source: DataSource) -> str:
    if source.kind == "sprite":
        return f"sprite {source.location} ({source.grid} tiles of {source.tile} px)"
    if source.kind == "demo":
        return "the generated demo faces"
    return f"{source.kind.replace('_', ' ')} {source.location}"


@dataclass(frozen=True)
class Recording:
    """A journal's `session_started`, and whether the data and the encoder came from flags instead;
    checks that the pool a command opens is the one the session was recorded on."""

    started: SessionStarted
    data_from_flags: bool = False
    encoder_from_flags: bool = False

    @property
    def predates_sources(self) -> bool:
        return self.started.source is None

    def flags_to_add(self) -> str:
        return f"{PREDATES}; add {data_flags(self.started)} {encoder_flags(self.started.encoder)}"

    def check_can_build_encoder(self) -> None:
        """Before anything is opened: an old journal whose encoder id does not say how to build it
        needs the encoder flags."""
        if self.predates_sources and not self.encoder_from_flags and self.started.encoder \
                and settings_from_encoder_id(self.started.encoder) is None:
            raise InvalidInput(f"{PREDATES} and its encoder {self.started.encoder} cannot be built from its id; "
                               f"add {encoder_flags(self.started.encoder)}")

    def open_failed(self, error: DataError) -> DataError:
        """A recorded source that no longer opens: say what was recorded and which flags move it."""
        source = self.started.source
        if self.data_from_flags or source is None:
            return error
        return DataError(f"{error}; the session recorded its data as {recorded_source_text(source)}: "
                         f"if it has moved, give it with {FLAGS.get(source.kind, FLAGS['sprite'])}")

    def check_source(self, source: ImageSource) -> None:
        recorded, found = self.started.data, source.fingerprint()
        if not recorded or found == recorded:
            if self.predates_sources and not self.data_from_flags:
                log.info("%s; its data fingerprint is the generated demo's, so the demo is used", PREDATES)
            return
        if self.data_from_flags:
            raise InvalidInput(f"the session was recorded on data {recorded[:16]}... but these data flags give "
                               f"{found[:16]}... ({source.name}); give the data it was recorded on, or drop the "
                               "data flags to use the recorded source")
        if self.predates_sources:
            raise InvalidInput(f"{self.flags_to_add()}; its data is not the generated demo")
        source_text = recorded_source_text(self.started.source)
        raise InvalidInput(f"the recorded data source, {source_text}, has changed: its fingerprint is "
                           f"{found[:16]}..., the session's {recorded[:16]}...; give the data it was recorded on "
                           f"with {FLAGS.get(self.started.source.kind, FLAGS['sprite'])}")

    def check_encoder(self, encoder: Encoder) -> None:
        recorded = self.started.encoder
        if not recorded or encoder.id == recorded:
            if recorded and self.predates_sources and not self.encoder_from_flags:
                log.info("%s; its encoder id %s says how to build the encoder", PREDATES, recorded)
            return
        if self.encoder_from_flags:
            raise InvalidInput(f"the session was recorded with encoder {recorded} but these flags give {encoder.id}; "
                               f"drop the encoder flags (the journal names its encoder), or pass "
                               f"{encoder_flags(recorded)}")
        if self.predates_sources:
            raise InvalidInput(self.flags_to_add())
        raise InvalidInput(f"the recorded encoder settings now build {encoder.id}, not the session's {recorded} "
                           f"(its weights or embeddings file changed); pass {encoder_flags(recorded)}")
