"""Media routes: what a card shows, what the closer look serves, and a window's sound, asked of the data source.

The source says how an item is drawn: `source.thumbnail(id)` is the card's picture (PNG bytes),
`source.closer(id)` (bytes, mimetype) the closer look; a source without `closer` is an image source,
whose item is shown at its own resolution (`still_image`); a window of a recording (media "audio")
is closer-looked as a wide spectrogram with context, and `/api/audio/ID` plays it. A media route reaches an item through
`served_item`, so it keeps the rules every route keeps: the token and origin checks run before any
route (app.py), the item belongs to the tab's concept (`?concept=`, in `runtime().workspace`), and an
unknown id is a 404. It answers through `media_response` (cacheable by this browser only).
"""

from __future__ import annotations

import base64
import io
from typing import Any

from flask import Blueprint, Response
from PIL import Image

from ..data.media import AUDIO, media_of
from ..errors import InvalidInput, UnknownItem
from ..workspace import Workspace
from .bodies import int_arg
from .runtime import runtime

media = Blueprint("media", __name__, url_prefix="/api")
FULL_SIZE = 1600  # longest side of an image shown close up; larger sources are scaled down
CONTEXT_WINDOWS = 1  # windows either side of a window, for `Shift+p` and the closer look
CACHE_CONTROL = "private, max-age=3600"  # an item's media never changes under its id


def served_item(item: int) -> Workspace:
    """The tab's workspace, once `item` is known to it (else a 404)."""
    ws = runtime().workspace
    if not 0 <= item < ws.session.n_items:
        raise UnknownItem(f"unknown id {item} (ids are 0..{ws.session.n_items - 1})")
    return ws


def media_response(data: bytes, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype, headers={"Cache-Control": CACHE_CONTROL})


def item_json(ws: Workspace, item: int, prob: float, **extra: Any) -> dict[str, Any]:
    """A card: its id, its picture (the source's thumbnail, base64 PNG: a photo, or a window's
    spectrogram), the prediction, and what is shown on hover (a name; a window's file and times)."""
    image = base64.b64encode(ws.source.thumbnail(item)).decode("ascii")
    return {"id": item, "image": image, "prob_pos": round(float(prob), 4), **ws.card_fields(item), **extra}


def still_image(image: Image.Image) -> tuple[bytes, str]:
    """An image at its own resolution, at most FULL_SIZE a side: JPEG when large, else PNG."""
    if max(image.size) > FULL_SIZE:
        image = image.copy()
        image.thumbnail((FULL_SIZE, FULL_SIZE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if max(image.size) > 256:
        image.convert("RGB").save(buffer, "JPEG", quality=90)
        return buffer.getvalue(), "image/jpeg"
    image.save(buffer, "PNG")
    return buffer.getvalue(), "image/png"


def closer_look(source: Any, item: int) -> tuple[bytes, str]:
    """What the closer look shows of `item`: a window of a recording as a wide spectrogram with one window
    of context either side (the span `/api/audio/ID?context=1` plays); else the source's own `closer`,
    else its image."""
    if media_of(source) is AUDIO:
        return source.closer_look(item, CONTEXT_WINDOWS), "image/png"
    closer = getattr(source, "closer", None)
    return closer(item) if closer is not None else still_image(source.image(item))


@media.get("/audio/<int:item>")
def window_sound(item: int) -> Response:
    """A window of a recording as 16-bit mono WAV; ?context=1 adds one window either side (clipped
    at the file's ends)."""
    ws = served_item(item)
    if media_of(ws.source) is not AUDIO:
        raise InvalidInput(f"{ws.source.name} holds {media_of(ws.source).name}s, not recordings: no sound to play")
    context = int_arg("context", default=0, minimum=0, maximum=CONTEXT_WINDOWS) or 0
    if not ws.source.available()[item]:
        raise UnknownItem(f"window {item} is not served now (its file is gone, unreadable or shorter)")
    return media_response(ws.source.wav_bytes(item, context), "audio/wav")


@media.get("/image/<int:item>")
def full_image(item: int) -> Response:
    """The closer look at an item (an image: at its own resolution, at most 1600 px a side)."""
    ws = served_item(item)
    return media_response(*closer_look(ws.source, item))
