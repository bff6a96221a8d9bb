"""Exemplar search over HTTP: which cards to search around (ids=...), and an image to search for.

`GET /api/next_batch?strategy=similar&ids=3,17` is the ordinary page route (routes.py) with ids;
`POST /api/similar_image?batch_size=N` takes one image (the raw bytes with an image/* type, or
a multipart field "image"), embeds it with the session's encoder and serves the page of the
unlabeled items nearest to it, pre-labeled positive. Bad input is a 4xx with a message.
"""

from __future__ import annotations

import hashlib
import io
import warnings

import numpy as np
from flask import Blueprint, Response, jsonify, request
from PIL import Image, ImageOps, UnidentifiedImageError

from ..data.decode import to_rgb
from ..errors import FastLabelError, InvalidInput
from .auth import current_labeler
from .bodies import int_arg
from .pages import batch_json
from .runtime import runtime

similar_api = Blueprint("similar", __name__, url_prefix="/api")

MAX_IMAGE_BYTES = 2 * 1024 * 1024  # the page scales a dropped photo down before it sends it
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP"}


class UnsupportedImage(FastLabelError):
    """An upload that is not an image of a format we read."""

    status = 415


class ImageTooLarge(FastLabelError):
    status = 413


class CannotEmbed(FastLabelError):
    """The session's embeddings came from a file, so there is no encoder for new images."""

    status = 409


class UploadedImage:
    """One image as an ImageSource, so any encoder embeds it exactly as it embedded the pool."""

    name = "upload"

    def __init__(self, image: Image.Image, data: bytes) -> None:
        self._image = image
        self._digest = hashlib.sha256(data).hexdigest()

    def __len__(self) -> int:
        return 1

    def image(self, item_id: int) -> Image.Image:
        return self._image

    def thumbnail(self, item_id: int) -> bytes:
        out = io.BytesIO()
        self._image.save(out, format="PNG")
        return out.getvalue()

    def fingerprint(self) -> str:
        return f"upload:{self._digest}"


def read_upload() -> bytes:
    """The uploaded bytes: a multipart field "image", or the raw body sent with an image/* type."""
    if request.files:
        upload = request.files.get("image")
        if upload is None:
            raise InvalidInput('send the image as the multipart field "image"')
        data = upload.read(MAX_IMAGE_BYTES + 1)
    else:
        kind = (request.mimetype or "").lower()
        if not kind.startswith("image/"):
            raise UnsupportedImage(f"send an image (Content-Type image/png, image/jpeg, ...), not {kind or 'nothing'}")
        data = request.get_data(cache=False)
    if not data:
        raise InvalidInput("the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageTooLarge(f"the image is over {MAX_IMAGE_BYTES // (1024 * 1024)} MB; send a smaller one")
    return data


def decode_image(data: bytes) -> Image.Image:
    """An RGB image from the bytes; 415 for what is not a readable image of a known format, 413 for a huge one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in IMAGE_FORMATS:
                raise UnsupportedImage(f"{image.format} images are not read here; send PNG, JPEG, WebP, GIF or BMP")
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ImageTooLarge(f"the image has {image.width}x{image.height} pixels; send one under "
                                    f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels")
            image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge("the image has too many pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnsupportedImage("the upload is not a readable image (PNG, JPEG, WebP, GIF or BMP)") from None
    return to_rgb(ImageOps.exif_transpose(image))  # the data layer's conversion: EXIF, alpha, 16-bit


# Encoders whose vectors depend on the whole pool (pixels: PCA fitted to it) or come from a file
POOL_BOUND_ENCODERS = ("precomputed:", "pixels:")


def embed_upload(encoder, image: Image.Image, data: bytes, dim: int) -> np.ndarray:
    """The image's (1, dim) vector from the pool's own encoder; 409 where that encoder cannot embed one image."""
    encoder_id = str(getattr(encoder, "id", ""))
    if encoder_id.startswith(POOL_BOUND_ENCODERS):
        raise CannotEmbed(f"the {encoder_id.split(':')[0]} embeddings cannot place a new image beside the pool; "
                          "use \"more like this\" on a card, or start with --encoder imagenet or clip")
    vectors = np.asarray(encoder.encode_images(UploadedImage(image, data)), dtype=np.float32)
    if vectors.shape != (1, dim) or not np.isfinite(vectors).all():
        raise CannotEmbed(f"the encoder {encoder_id} could not embed this image like the pool's images")
    return vectors


@similar_api.post("/similar_image")
def similar_image() -> Response:
    rt = runtime()
    size = int_arg("batch_size", default=rt.config.batch_size, minimum=1, maximum=None)
    size = min(size or rt.config.batch_size, rt.config.max_batch_size)
    data = read_upload()
    image = decode_image(data)
    ws = rt.workspace
    vectors = embed_upload(ws.encoder, image, data, ws.session.embeddings.shape[1])
    return jsonify(batch_json(ws, ws.session.next_batch("similar", size, vectors=vectors, labeler=current_labeler())))
