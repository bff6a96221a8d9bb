"""A small generated folder of photos as a new user's might be: every awkward case, in a few KB."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

GOOD_SHAPES = 16  # circles (positive) and squares (negative), alternating


def shape_image(kind: str, size: tuple[int, int], seed: int, box: tuple[int, int, int, int] | None = None) -> Image.Image:
    """A light background with a dark circle or square; `box` places the shape (default: centred)."""
    rng = np.random.default_rng(seed)
    w, h = size
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(200, 255, 3)))
    draw = ImageDraw.Draw(image)
    if box is None:
        side = min(w, h) * 0.6
        box = (int(w / 2 - side / 2), int(h / 2 - side / 2), int(w / 2 + side / 2), int(h / 2 + side / 2))
    colour = tuple(int(v) for v in rng.integers(0, 80, 3))
    (draw.ellipse if kind == "circle" else draw.rectangle)(box, fill=colour)
    return image


def sixteen_bit_png(path: Path, kind: str, size: int = 64) -> None:
    """A 16-bit grayscale PNG: dark shape (6,000) on a mid-grey field (40,000), far above 255 everywhere."""
    mask = np.asarray(shape_image(kind, (size, size), 0).convert("L")) < 128
    values = np.where(mask, 6000, 40000).astype(np.uint16)
    Image.fromarray(values).save(path)  # uint16 -> mode I;16


def truncated_jpeg(path: Path, seed: int = 1) -> None:
    """A JPEG whose header is whole but whose data stops two thirds of the way."""
    noise = np.random.default_rng(seed).integers(0, 255, (160, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="JPEG", quality=95)
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) * 2 // 3])


def make_messy_folder(root: Path) -> dict[str, object]:
    """Write the folder; returns what a test needs to know: the good paths by class, and the bad ones."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pos").mkdir()
    (root / "neg").mkdir()
    formats = ["png", "jpg", "webp", "bmp", "gif", "PNG"]
    good: dict[str, int] = {}
    for i in range(GOOD_SHAPES):
        kind = "circle" if i % 2 == 0 else "square"
        ext = formats[i % len(formats)]
        size = (32 + 24 * i, 32 + 16 * i)
        relative = f"{'pos' if kind == 'circle' else 'neg'}/{kind}_{i:02d}.{ext}"
        shape_image(kind, size, i).save(root / relative)
        good[relative] = int(kind == "circle")
    # awkward but good: EXIF rotation, CMYK, alpha, palette, animated GIF, unicode name, a panorama
    exif = Image.Exif()
    exif[0x0112] = 6
    shape_image("circle", (90, 40), 40).save(root / "pos/rotated.jpg", exif=exif)
    shape_image("square", (64, 64), 41).convert("CMYK").save(root / "neg/cmyk.jpg")
    rgba = shape_image("circle", (64, 64), 42).convert("RGBA")
    rgba.putalpha(200)
    rgba.save(root / "pos/alpha.png")
    shape_image("square", (64, 64), 43).convert("P").save(root / "neg/palette.png")
    frames = [shape_image("circle", (48, 48), 44 + k) for k in range(3)]
    frames[0].save(root / "pos/animated.gif", save_all=True, append_images=frames[1:])
    shape_image("circle", (70, 70), 47).save(root / "pos/café ☕.png")
    shape_image("circle", (600, 120), 48, box=(540, 30, 600, 90)).save(root / "pos/panorama.png")
    sixteen_bit_png(root / "pos/gray16_circle.png", "circle")
    sixteen_bit_png(root / "neg/gray16_square.png", "square")
    good.update({"pos/rotated.jpg": 1, "neg/cmyk.jpg": 0, "pos/alpha.png": 1, "neg/palette.png": 0,
                 "pos/animated.gif": 1, "pos/café ☕.png": 1, "pos/panorama.png": 1,
                 "pos/gray16_circle.png": 1, "neg/gray16_square.png": 0})
    # bad: truncated data, empty, text named .jpg
    truncated_jpeg(root / "neg/truncated.jpg")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.jpg").write_text("these are my holiday notes, not a picture")
    # duplicates: a link to a file of the folder, and a byte-identical copy
    os.symlink("circle_00.png", root / "pos/link_to_circle.png")
    (root / "neg/copy_of_square.gif").write_bytes((root / "neg/square_01.jpg").read_bytes())
    # a dangling link, a link loop, a hidden folder, a text file
    os.symlink("gone.png", root / "dangling.png")
    os.symlink("..", root / "pos/loop")
    (root / ".thumbnails").mkdir()
    shape_image("circle", (40, 40), 50).save(root / ".thumbnails/hidden.png")
    (root / "readme.txt").write_text("not an image")
    bad = {"neg/truncated.jpg", "empty.png", "notes.jpg", "dangling.png"}
    duplicates = {"pos/link_to_circle.png", "neg/copy_of_square.gif"}
    return {"good": good, "bad": bad, "duplicates": duplicates}
