"""Offline demo data: procedurally drawn cartoon faces in a sprite sheet, with attribute labels.

Lets the app and the tests run anywhere without real photos. Everything random comes from one
numpy Generator, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import colorsys
import csv
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fastlabel.errors import DataError

TILE = 48
ATTRIBUTE_NAMES = ("Smiling", "Eyeglasses", "Wearing_Hat", "Male", "Blond_Hair")
_SCALE = 4  # faces are drawn this much larger, then shrunk, for smooth edges

Color = tuple[int, int, int]

_LIGHT_SKIN: Color = (250, 222, 196)
_DARK_SKIN: Color = (105, 68, 45)
_BLOND: tuple[Color, ...] = ((236, 206, 128), (246, 224, 160), (212, 176, 98), (226, 190, 110))
_NOT_BLOND: tuple[Color, ...] = (
    (28, 24, 24),
    (62, 40, 28),
    (104, 68, 40),
    (140, 72, 40),
    (150, 150, 152),
)
_NOT_BLOND_WEIGHTS = (0.32, 0.3, 0.22, 0.1, 0.06)


@dataclass(frozen=True)
class DemoData:
    """Where make_demo wrote its files, and how to read the sprite."""

    sprite: Path
    grid: str
    attributes: Path
    n: int
    tile: int = TILE


@dataclass(frozen=True)
class FaceTraits:
    """The labelled attributes of one face."""

    smiling: bool
    eyeglasses: bool
    hat: bool
    male: bool
    blond: bool

    def row(self) -> list[int]:
        """Values in the order of ATTRIBUTE_NAMES."""
        return [int(self.smiling), int(self.eyeglasses), int(self.hat), int(self.male), int(self.blond)]


def sample_traits(rng: np.random.Generator) -> FaceTraits:
    """Draw one face's attributes at roughly CelebA-like rates (blond is rarer among men)."""
    male = bool(rng.random() < 0.45)
    return FaceTraits(
        smiling=bool(rng.random() < 0.5),
        eyeglasses=bool(rng.random() < 0.15),
        hat=bool(rng.random() < 0.12),
        male=male,
        blond=bool(rng.random() < (0.12 if male else 0.27)),
    )


def _jitter(rng: np.random.Generator, color: Color, spread: float) -> Color:
    noisy = np.asarray(color, dtype=float) + rng.normal(0.0, spread, 3)
    return tuple(int(v) for v in np.clip(noisy, 0, 255))  # type: ignore[return-value]


def _mix(a: Color, b: Color, t: float) -> Color:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _random_color(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> Color:
    """A colour of random hue, with saturation and brightness drawn from the given ranges."""
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return tuple(int(255 * c) for c in rgb)  # type: ignore[return-value]


class _Pen:
    """ImageDraw in tile units (0..48), drawing on a canvas _SCALE times larger."""

    def __init__(self, canvas: Image.Image) -> None:
        self.draw = ImageDraw.Draw(canvas)

    @staticmethod
    def _box(cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [(cx - rx) * _SCALE, (cy - ry) * _SCALE, (cx + rx) * _SCALE, (cy + ry) * _SCALE]

    @staticmethod
    def _width(width: float) -> int:
        return max(1, round(width * _SCALE))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, fill=None, outline=None, width: float = 0) -> None:
        self.draw.ellipse(self._box(cx, cy, rx, ry), fill=fill, outline=outline,
                          width=self._width(width) if outline else 0)

    def chord(self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill) -> None:
        self.draw.chord(self._box(cx, cy, rx, ry), start, end, fill=fill)

    def arc(self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill, width: float) -> None:
        self.draw.arc(self._box(cx, cy, rx, ry), start, end, fill=fill, width=self._width(width))

    def line(self, points: list[tuple[float, float]], fill, width: float) -> None:
        scaled = [(x * _SCALE, y * _SCALE) for x, y in points]
        self.draw.line(scaled, fill=fill, width=self._width(width), joint="curve")

    def rectangle(self, x0: float, y0: float, x1: float, y1: float, fill, radius: float = 0) -> None:
        box = [x0 * _SCALE, y0 * _SCALE, x1 * _SCALE, y1 * _SCALE]
        self.draw.rounded_rectangle(box, radius=radius * _SCALE, fill=fill)

    def polygon(self, points: list[tuple[float, float]], fill) -> None:
        self.draw.polygon([(x * _SCALE, y * _SCALE) for x, y in points], fill=fill)


def draw_face(rng: np.random.Generator, traits: FaceTraits) -> np.ndarray:
    """Render one 48x48 RGB face showing the given traits, with everything else varied at random."""
    background = _random_color(rng, (0.05, 0.45), (0.35, 0.95))
    skin = _jitter(rng, _mix(_LIGHT_SKIN, _DARK_SKIN, float(rng.beta(1.6, 2.2))), 6)
    shade = _mix(skin, (60, 30, 20), 0.3)
    if traits.blond:
        hair = _jitter(rng, _BLOND[rng.integers(len(_BLOND))], 10)
    else:
        hair = _jitter(rng, _NOT_BLOND[rng.choice(len(_NOT_BLOND), p=_NOT_BLOND_WEIGHTS)], 8)
    brow = _mix(hair, (20, 15, 10), 0.35)
    shirt = _random_color(rng, (0.2, 0.8), (0.25, 0.9))

    cx = 24 + float(np.clip(rng.normal(0, 1.4), -3, 3))
    cy = 24 + float(np.clip(rng.normal(0, 1.2), -2.5, 2.5))
    rx = rng.uniform(9.5, 12.5) * (1.04 if traits.male else 1.0)
    ry = rng.uniform(12.0, 15.0)
    long_hair = bool(rng.random() < (0.1 if traits.male else 0.85))
    beard = traits.male and bool(rng.random() < 0.55)
    stubble = traits.male and not beard and bool(rng.random() < 0.4)
    bald = traits.male and bool(rng.random() < 0.08)

    canvas = Image.new("RGB", (TILE * _SCALE, TILE * _SCALE), background)
    pen = _Pen(canvas)

    # shoulders, long hair behind the head, neck, ears
    pen.ellipse(cx, cy + ry + 13, rx + 10, 9, fill=shirt)
    if long_hair:
        length = rng.uniform(4, 10)
        pen.rectangle(cx - rx - 2.5, cy - ry * 0.3, cx + rx + 2.5, cy + ry * 0.6 + length, fill=hair, radius=3)
        pen.ellipse(cx, cy - 1.5, rx + 2.8, ry + 1.5, fill=hair)
    pen.rectangle(cx - rx * 0.42, cy + ry * 0.6, cx + rx * 0.42, cy + ry + 5, fill=shade)
    for side in (-1, 1):
        pen.ellipse(cx + side * rx * 0.98, cy + 0.5, 1.8, 2.8, fill=skin)
    pen.ellipse(cx, cy, rx, ry, fill=skin)

    # hair on top of the head
    if not bald:
        top = ry * rng.uniform(0.35, 0.6) if not traits.male else ry * rng.uniform(0.15, 0.35)
        pen.chord(cx, cy - 1.2, rx + 1.0, ry + 1.2, 180, 360, fill=hair)
        if not traits.male:
            parting = rng.uniform(-0.5, 0.5) * rx
            pen.chord(cx + parting * 0.3, cy - ry * 0.35, rx * 0.95, top, 180, 360, fill=hair)
        else:
            pen.chord(cx, cy - ry * 0.45, rx * 0.98, top, 180, 360, fill=hair)

    # beard or stubble on the lower face
    if beard:
        pen.chord(cx, cy + ry * 0.15, rx * 0.98, ry * 0.85, 0, 180, fill=hair)
    elif stubble:
        pen.chord(cx, cy + ry * 0.2, rx * 0.92, ry * 0.78, 10, 170, fill=_mix(skin, hair, 0.35))

    # eyes and brows
    eye_y = cy - ry * rng.uniform(0.02, 0.16)
    eye_dx = rx * rng.uniform(0.36, 0.46)
    eye_r = rng.uniform(1.2, 2.4)
    iris = _jitter(rng, [(60, 40, 25), (40, 90, 140), (60, 110, 60), (25, 20, 20)][rng.integers(4)], 6)
    brow_tilt = rng.uniform(-0.8, 0.8)
    brow_width = rng.uniform(0.6, 1.0) * (1.4 if traits.male else 1.0)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        pen.ellipse(ex, eye_y, eye_r * 1.35, eye_r, fill=(245, 245, 240))
        pen.ellipse(ex, eye_y, eye_r * 0.72, eye_r * 0.72, fill=iris)
        pen.ellipse(ex, eye_y, eye_r * 0.32, eye_r * 0.32, fill=(10, 10, 10))
        by = eye_y - eye_r - rng.uniform(1.2, 2.2)
        pen.line([(ex - 2.4, by + side * brow_tilt * 0.5), (ex + 2.4, by - side * brow_tilt * 0.5)],
                 fill=brow, width=brow_width)

    # nose
    nose_y = cy + ry * rng.uniform(0.18, 0.3)
    pen.line([(cx, eye_y + 1.5), (cx - 1.0, nose_y), (cx + 0.8, nose_y + 0.4)], fill=shade, width=0.6)

    # mouth
    mouth_y = cy + ry * rng.uniform(0.48, 0.58)
    mouth_w = rx * rng.uniform(0.32, 0.5)
    lips = _mix(skin, (150, 40, 50), rng.uniform(0.55, 0.9) if not traits.male else rng.uniform(0.35, 0.6))
    if traits.smiling:
        depth = rng.uniform(1.6, 3.0)
        if rng.random() < 0.5:
            pen.chord(cx, mouth_y - depth * 0.5, mouth_w, depth * 1.3, 0, 180, fill=(90, 20, 30))
            pen.chord(cx, mouth_y - depth * 0.5, mouth_w * 0.8, depth * 0.7, 0, 180, fill=(245, 245, 240))
        else:
            pen.arc(cx, mouth_y - depth, mouth_w, depth * 1.4, 20, 160, fill=lips, width=1.0)
    else:
        style = rng.random()
        if style < 0.6:
            sag = rng.uniform(-0.4, 0.6)
            pen.line([(cx - mouth_w * 0.85, mouth_y), (cx, mouth_y + sag * 0.3), (cx + mouth_w * 0.85, mouth_y)],
                     fill=lips, width=1.0)
        elif style < 0.85:
            pen.arc(cx, mouth_y + 1.6, mouth_w * 0.8, 1.6, 205, 335, fill=lips, width=1.0)
        else:
            pen.ellipse(cx, mouth_y, mouth_w * 0.35, 1.1, fill=(90, 20, 30))

    # glasses
    if traits.eyeglasses:
        frame = _jitter(rng, [(20, 20, 20), (90, 60, 30), (150, 150, 160), (120, 20, 30)][rng.integers(4)], 8)
        lens_r = eye_r * 1.3 + rng.uniform(1.4, 2.2)
        dark = rng.random() < 0.2
        for side in (-1, 1):
            ex = cx + side * eye_dx
            pen.ellipse(ex, eye_y, lens_r * 1.1, lens_r * 0.9, fill=(30, 30, 35) if dark else None,
                        outline=frame, width=rng.uniform(0.6, 1.0))
        pen.line([(cx - eye_dx + lens_r * 1.1, eye_y), (cx + eye_dx - lens_r * 1.1, eye_y)], fill=frame, width=0.7)

    # hat
    if traits.hat:
        hat = _random_color(rng, (0.3, 0.9), (0.2, 0.85))
        brim_y = cy - ry * rng.uniform(0.45, 0.62)
        if rng.random() < 0.5:  # beanie
            pen.chord(cx, brim_y, rx + 1.5, ry * 0.75, 180, 360, fill=hat)
            pen.rectangle(cx - rx - 1.5, brim_y - 2.2, cx + rx + 1.5, brim_y + 0.8, fill=_mix(hat, (0, 0, 0), 0.25), radius=1)
        else:  # cap with a brim
            pen.chord(cx, brim_y, rx + 1.0, ry * 0.7, 180, 360, fill=hat)
            side = 1 if rng.random() < 0.5 else -1
            pen.polygon([(cx - rx - 1, brim_y), (cx + rx + 1, brim_y),
                         (cx + side * (rx + 7), brim_y + 2.2), (cx - side * 2, brim_y + 2.2)],
                        fill=_mix(hat, (0, 0, 0), 0.3))

    angle = float(rng.uniform(-7, 7))
    canvas = canvas.rotate(angle, resample=Image.Resampling.BICUBIC, center=(cx * _SCALE, cy * _SCALE),
                           fillcolor=background)
    small = np.asarray(canvas.resize((TILE, TILE), Image.Resampling.LANCZOS), dtype=float)
    light = rng.uniform(0.82, 1.12) + np.linspace(-1, 1, TILE)[None, :, None] * rng.uniform(-0.08, 0.08)
    noisy = small * light + rng.normal(0.0, 3.0, small.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file, so a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _attributes_csv(traits: list[FaceTraits]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("image_id", *ATTRIBUTE_NAMES))
    for index, face in enumerate(traits):
        writer.writerow((f"{index + 1:06d}.png", *face.row()))
    return buffer.getvalue().encode()


def make_demo(out_dir: str | os.PathLike[str], n: int = 600, cols: int = 30, seed: int = 0) -> DemoData:
    """Draw n labelled cartoon faces into out_dir/sprite.png (cols wide) and out_dir/attributes.csv."""
    if n < 1 or cols < 1:
        raise DataError(f"demo needs at least one face and one column, got n={n}, cols={cols}")
    rows = math.ceil(n / cols)
    rng = np.random.default_rng(seed)
    sprite = np.zeros((rows * TILE, cols * TILE, 3), dtype=np.uint8)
    traits = []
    for index in range(n):
        face = sample_traits(rng)
        top, left = TILE * (index // cols), TILE * (index % cols)
        sprite[top : top + TILE, left : left + TILE] = draw_face(rng, face)
        traits.append(face)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.fromarray(sprite).save(buffer, format="PNG")
    sprite_path, attributes_path = out / "sprite.png", out / "attributes.csv"
    _write_atomically(sprite_path, buffer.getvalue())
    _write_atomically(attributes_path, _attributes_csv(traits))
    return DemoData(sprite=sprite_path, grid=f"{cols}x{rows}", attributes=attributes_path, n=n)
