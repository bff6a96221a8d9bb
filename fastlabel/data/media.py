"""Media kinds: what an item is (an image, or a window of a recording) and everything that decides.

Every source declares its `media`. The kind says how an item is decoded for an encoder (and what
stands in when that fails), which route serves the item itself (the closer look for an image, the
sound for a window of audio), which flag opens such data and which encoders accept it, so the
workspace, the server and the encoders ask here instead of testing for image classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from PIL import Image

from fastlabel.errors import InvalidInput

STAND_IN_SIDE = 64


@dataclass(frozen=True)
class MediaKind:
    name: str  # what sources declare as `media`
    noun: str  # one item, in messages and progress bars: "image", "window"
    flag: str  # the CLI flag that opens a folder of it
    encoders: tuple[str, ...]  # encoder names that accept it (`auto` picks among `auto_order`)
    auto_order: tuple[str, ...]  # what `--encoder auto` tries, best first
    route: str  # the media route for one item, "{id}" filled in
    decode: Callable[[Any, int], Any]  # the encoder's input for one item of a source
    stand_in: Callable[[Any], Any]  # what an encoder gets for an item that failed to decode

    def accepts(self, encoder_name: str) -> bool:
        return encoder_name in self.encoders

    def check_encoder(self, encoder_name: str) -> None:
        """InvalidInput, naming the encoders that fit, when `encoder_name` does not take this media."""
        if not self.accepts(encoder_name):
            raise InvalidInput(f"--encoder {encoder_name} does not embed {self.name}; for {self.name} "
                               f"({self.flag}) choose one of: {', '.join(self.encoders)}")


def _blank_image(source: Any) -> Image.Image:
    return Image.new("RGB", (STAND_IN_SIDE, STAND_IN_SIDE))


def _silent_window(source: Any) -> np.ndarray:
    return np.zeros(max(1, int(round(source.window_s * source.sample_rate))), dtype=np.float32)


IMAGE = MediaKind(
    name="image", noun="image", flag="--images",
    encoders=("auto", "clip", "imagenet", "pixels", "precomputed"), auto_order=("clip", "imagenet", "pixels"),
    route="/api/image/{id}", decode=lambda source, item: source.image(item), stand_in=_blank_image,
)
AUDIO = MediaKind(
    name="audio", noun="window", flag="--audio",
    encoders=("auto", "birdnet", "logmel", "precomputed"), auto_order=("birdnet", "logmel"),
    route="/api/audio/{id}", decode=lambda source, item: source.window(item), stand_in=_silent_window,
)
MEDIA: dict[str, MediaKind] = {kind.name: kind for kind in (IMAGE, AUDIO)}


def media_kind(name: str) -> MediaKind:
    try:
        return MEDIA[name]
    except KeyError:
        raise InvalidInput(f"unknown media {name!r}; this FastLabel knows {', '.join(MEDIA)}") from None


def media_of(source: Any) -> MediaKind:
    """The kind of a source's items (a source that declares none holds images)."""
    return media_kind(getattr(source, "media", IMAGE.name))


def encoder_media(encoder: Any) -> str | None:
    """The media an encoder embeds; None for one that serves vectors computed elsewhere (any media)."""
    return getattr(encoder, "media", IMAGE.name)


def check_encoder_fits(encoder: Any, source: Any) -> None:
    """InvalidInput when a built encoder embeds another media than the source's items."""
    kind, takes = media_of(source), encoder_media(encoder)
    if takes is not None and takes != kind.name:
        raise InvalidInput(f"the encoder {encoder.id} embeds {takes}, but {getattr(source, 'name', 'the data')} "
                           f"holds {kind.name}; choose one of: {', '.join(kind.encoders)}")
