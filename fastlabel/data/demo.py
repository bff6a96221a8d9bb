"""Offline demo data: procedurally drawn cartoon faces in a sprite sheet, with attribute labels.

Lets the app and the tests run anywhere without real photos. Everything random comes from one
numpy Generator, so the same seed gives byte-identical files. One module on purpose, though long:
every drawing step draws from that Generator in a fixed order, and keeping the steps side by side
keeps that order (and so every committed demo session) visible and intact.
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
from fastlabel.files import write_atomic

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
_IRIS: tuple[Color, ...] = ((60, 40, 25), (40, 90, 140), (60, 110, 60), (25, 20, 20))
_FRAMES: tuple[Color, ...] = ((20, 20, 20), (90, 60, 30), (150, 150, 160), (120, 20, 30))
_MOUTH: Color = (90, 20, 30)
_TEETH: Color = (245, 245, 240)


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
        flags = (self.smiling, self.eyeglasses, self.hat, self.male, self.blond)
        return [int(flag) for flag in flags]


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


def _random_color(
    rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]
) -> Color:
    """A colour of random hue, with saturation and brightness drawn from the given ranges."""
    rgb = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return tuple(int(255 * c) for c in rgb)  # type: ignore[return-value]


class _Pen:
    """ImageDraw in tile units (0..48) on a canvas _SCALE times larger; ovals are centre + radii."""

    def __init__(self, canvas: Image.Image) -> None:
        self.draw = ImageDraw.Draw(canvas)

    @staticmethod
    def _box(cx: float, cy: float, rx: float, ry: float) -> list[float]:
        return [(cx - rx) * _SCALE, (cy - ry) * _SCALE, (cx + rx) * _SCALE, (cy + ry) * _SCALE]

    @staticmethod
    def _points(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        return [(x * _SCALE, y * _SCALE) for x, y in points]

    @staticmethod
    def _width(width: float) -> int:
        return max(1, round(width * _SCALE))

    def ellipse(
        self, cx: float, cy: float, rx: float, ry: float,
        fill: Color | None = None, outline: Color | None = None, width: float = 0,
    ) -> None:
        line_width = self._width(width) if outline else 0
        self.draw.ellipse(self._box(cx, cy, rx, ry), fill=fill, outline=outline, width=line_width)

    def chord(
        self, cx: float, cy: float, rx: float, ry: float, start: float, end: float, fill: Color
    ) -> None:
        self.draw.chord(self._box(cx, cy, rx, ry), start, end, fill=fill)

    def arc(
        self, cx: float, cy: float, rx: float, ry: float, start: float, end: float,
        fill: Color, width: float,
    ) -> None:
        self.draw.arc(self._box(cx, cy, rx, ry), start, end, fill=fill, width=self._width(width))

    def line(self, points: list[tuple[float, float]], fill: Color, width: float) -> None:
        self.draw.line(self._points(points), fill=fill, width=self._width(width), joint="curve")

    def rectangle(
        self, x0: float, y0: float, x1: float, y1: float, fill: Color, radius: float = 0
    ) -> None:
        box = [x0 * _SCALE, y0 * _SCALE, x1 * _SCALE, y1 * _SCALE]
        self.draw.rounded_rectangle(box, radius=radius * _SCALE, fill=fill)

    def polygon(self, points: list[tuple[float, float]], fill: Color) -> None:
        self.draw.polygon(self._points(points), fill=fill)


@dataclass(frozen=True)
class _Head:
    """Where the head sits on the tile (centre and radii, tile units) and its colours."""

    cx: float
    cy: float
    rx: float
    ry: float
    skin: Color
    hair: Color

    @property
    def shade(self) -> Color:
        return _mix(self.skin, (60, 30, 20), 0.3)


@dataclass(frozen=True)
class _Eyes:
    y: float
    dx: float  # distance of each eye from the face's centre line
    r: float


def _sample_head(rng: np.random.Generator, traits: FaceTraits) -> _Head:
    skin = _jitter(rng, _mix(_LIGHT_SKIN, _DARK_SKIN, float(rng.beta(1.6, 2.2))), 6)
    if traits.blond:
        hair = _jitter(rng, _BLOND[rng.integers(len(_BLOND))], 10)
    else:
        hair = _jitter(rng, _NOT_BLOND[rng.choice(len(_NOT_BLOND), p=_NOT_BLOND_WEIGHTS)], 8)
    return _Head(
        cx=24 + float(np.clip(rng.normal(0, 1.4), -3, 3)),
        cy=24 + float(np.clip(rng.normal(0, 1.2), -2.5, 2.5)),
        rx=rng.uniform(9.5, 12.5) * (1.04 if traits.male else 1.0),
        ry=rng.uniform(12.0, 15.0),
        skin=skin,
        hair=hair,
    )


def _draw_head(pen: _Pen, rng: np.random.Generator, head: _Head, male: bool) -> None:
    """Shoulders, neck, ears, face, hair and facial hair; long hair is mostly a female cue."""
    cx, cy, rx, ry, hair = head.cx, head.cy, head.rx, head.ry, head.hair
    pen.ellipse(cx, cy + ry + 13, rx + 10, 9, fill=_random_color(rng, (0.2, 0.8), (0.25, 0.9)))
    if rng.random() < (0.1 if male else 0.85):  # long hair falls behind the head
        bottom = cy + ry * 0.6 + rng.uniform(4, 10)
        pen.rectangle(cx - rx - 2.5, cy - ry * 0.3, cx + rx + 2.5, bottom, fill=hair, radius=3)
        pen.ellipse(cx, cy - 1.5, rx + 2.8, ry + 1.5, fill=hair)
    pen.rectangle(cx - rx * 0.42, cy + ry * 0.6, cx + rx * 0.42, cy + ry + 5, fill=head.shade)
    for side in (-1, 1):
        pen.ellipse(cx + side * rx * 0.98, cy + 0.5, 1.8, 2.8, fill=head.skin)
    pen.ellipse(cx, cy, rx, ry, fill=head.skin)

    bald = male and rng.random() < 0.08
    if not bald:  # hair on top, down to a hairline above the eyes
        hairline = cy - ry * (rng.uniform(0.32, 0.5) if male else rng.uniform(0.26, 0.4))
        pen.chord(cx, hairline, rx + 1.0, hairline - (cy - ry - 1.2), 180, 360, fill=hair)
        if not male and rng.random() < 0.5:  # a fringe
            shift = rng.uniform(-0.3, 0.3) * rx
            depth = ry * rng.uniform(0.12, 0.22)
            pen.chord(cx + shift, hairline, rng.uniform(0.5, 0.95) * rx, depth, 0, 180, fill=hair)

    if male:
        style = rng.random()
        if style < 0.55:  # beard
            pen.chord(cx, cy + ry * 0.15, rx * 0.98, ry * 0.85, 0, 180, fill=hair)
        elif style < 0.73:  # stubble
            stubble = _mix(head.skin, hair, 0.35)
            pen.chord(cx, cy + ry * 0.2, rx * 0.92, ry * 0.78, 10, 170, fill=stubble)


def _draw_eyes(pen: _Pen, rng: np.random.Generator, head: _Head, male: bool) -> _Eyes:
    """Eyes of random size and iris colour, with brows; returns where they are for the glasses."""
    eyes = _Eyes(
        y=head.cy - head.ry * rng.uniform(0.02, 0.16),
        dx=head.rx * rng.uniform(0.36, 0.46),
        r=rng.uniform(1.2, 2.4),
    )
    iris = _jitter(rng, _IRIS[rng.integers(len(_IRIS))], 6)
    brow = _mix(head.hair, (20, 15, 10), 0.35)
    tilt = rng.uniform(-0.4, 0.4)
    brow_width = rng.uniform(0.6, 1.0) * (1.4 if male else 1.0)
    for side in (-1, 1):
        ex = head.cx + side * eyes.dx
        pen.ellipse(ex, eyes.y, eyes.r * 1.35, eyes.r, fill=(245, 245, 240))
        pen.ellipse(ex, eyes.y, eyes.r * 0.72, eyes.r * 0.72, fill=iris)
        pen.ellipse(ex, eyes.y, eyes.r * 0.32, eyes.r * 0.32, fill=(10, 10, 10))
        by = eyes.y - eyes.r - rng.uniform(1.2, 2.2)
        ends = [(ex - 2.4, by + side * tilt), (ex + 2.4, by - side * tilt)]
        pen.line(ends, fill=brow, width=brow_width)
    nose_y = head.cy + head.ry * rng.uniform(0.18, 0.3)
    nose = [(head.cx, eyes.y + 1.5), (head.cx - 1.0, nose_y), (head.cx + 0.8, nose_y + 0.4)]
    pen.line(nose, fill=head.shade, width=0.6)
    return eyes


def _draw_mouth(pen: _Pen, rng: np.random.Generator, head: _Head, traits: FaceTraits) -> None:
    """A smile (open with teeth, or a curved line), else a straight, downturned or round mouth."""
    cx = head.cx
    y = head.cy + head.ry * rng.uniform(0.48, 0.58)
    half_width = head.rx * rng.uniform(0.32, 0.5)
    redness = rng.uniform(0.35, 0.6) if traits.male else rng.uniform(0.55, 0.9)
    lips = _mix(head.skin, (150, 40, 50), redness)
    if traits.smiling:
        depth = rng.uniform(1.6, 3.0)
        if rng.random() < 0.5:
            top = y - depth * 0.5
            pen.chord(cx, top, half_width, depth * 1.3, 0, 180, fill=_MOUTH)
            pen.chord(cx, top, half_width * 0.8, depth * 0.7, 0, 180, fill=_TEETH)
        else:
            pen.arc(cx, y - depth, half_width, depth * 1.4, 20, 160, fill=lips, width=1.0)
        return
    style = rng.random()
    if style < 0.6:
        sag = rng.uniform(-0.12, 0.18)
        points = [(cx - half_width * 0.85, y), (cx, y + sag), (cx + half_width * 0.85, y)]
        pen.line(points, fill=lips, width=1.0)
    elif style < 0.85:
        pen.arc(cx, y + 1.6, half_width * 0.8, 1.6, 205, 335, fill=lips, width=1.0)
    else:
        pen.ellipse(cx, y, half_width * 0.35, 1.1, fill=_MOUTH)


def _draw_glasses(pen: _Pen, rng: np.random.Generator, head: _Head, eyes: _Eyes) -> None:
    frame = _jitter(rng, _FRAMES[rng.integers(len(_FRAMES))], 8)
    lens = eyes.r * 1.3 + rng.uniform(1.4, 2.2)
    tint = (30, 30, 35) if rng.random() < 0.2 else None  # some are sunglasses
    rim = rng.uniform(0.6, 1.0)
    for side in (-1, 1):
        ex = head.cx + side * eyes.dx
        pen.ellipse(ex, eyes.y, lens * 1.1, lens * 0.9, fill=tint, outline=frame, width=rim)
    inner = eyes.dx - lens * 1.1
    pen.line([(head.cx - inner, eyes.y), (head.cx + inner, eyes.y)], fill=frame, width=0.7)


def _draw_hat(pen: _Pen, rng: np.random.Generator, head: _Head) -> None:
    """A beanie with a band, or a cap whose brim points left or right."""
    cx, rx = head.cx, head.rx
    hat = _random_color(rng, (0.3, 0.9), (0.2, 0.85))
    band = _mix(hat, (0, 0, 0), 0.28)
    brim_y = head.cy - head.ry * rng.uniform(0.45, 0.62)
    if rng.random() < 0.5:
        pen.chord(cx, brim_y, rx + 1.5, head.ry * 0.75, 180, 360, fill=hat)
        pen.rectangle(cx - rx - 1.5, brim_y - 2.2, cx + rx + 1.5, brim_y + 0.8, fill=band, radius=1)
    else:
        pen.chord(cx, brim_y, rx + 1.0, head.ry * 0.7, 180, 360, fill=hat)
        side = 1 if rng.random() < 0.5 else -1
        brim = [
            (cx - rx - 1, brim_y),
            (cx + rx + 1, brim_y),
            (cx + side * (rx + 7), brim_y + 2.2),
            (cx - side * 2, brim_y + 2.2),
        ]
        pen.polygon(brim, fill=band)


def _to_tile(
    rng: np.random.Generator, canvas: Image.Image, head: _Head, background: Color
) -> np.ndarray:
    """Tilt the head a little, shrink to 48x48, and add uneven lighting and sensor-like noise."""
    centre = (head.cx * _SCALE, head.cy * _SCALE)
    angle = float(rng.uniform(-7, 7))
    # nearest is enough here: the 4x shrink below smooths the edges
    tilted = canvas.rotate(angle, Image.Resampling.NEAREST, center=centre, fillcolor=background)
    small = np.asarray(tilted.resize((TILE, TILE), Image.Resampling.LANCZOS), dtype=float)
    gradient = np.linspace(-1, 1, TILE)[None, :, None] * rng.uniform(-0.08, 0.08)
    noisy = small * (rng.uniform(0.82, 1.12) + gradient) + rng.normal(0.0, 3.0, small.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def draw_face(rng: np.random.Generator, traits: FaceTraits) -> np.ndarray:
    """Render one 48x48 RGB face showing the given traits, with everything else varied at random."""
    background = _random_color(rng, (0.05, 0.45), (0.35, 0.95))
    head = _sample_head(rng, traits)
    canvas = Image.new("RGB", (TILE * _SCALE, TILE * _SCALE), background)
    pen = _Pen(canvas)
    _draw_head(pen, rng, head, traits.male)
    eyes = _draw_eyes(pen, rng, head, traits.male)
    _draw_mouth(pen, rng, head, traits)
    if traits.eyeglasses:
        _draw_glasses(pen, rng, head, eyes)
    if traits.hat:
        _draw_hat(pen, rng, head)
    return _to_tile(rng, canvas, head, background)


def _attributes_csv(traits: list[FaceTraits]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("image_id", *ATTRIBUTE_NAMES))
    for index, face in enumerate(traits):
        writer.writerow((f"{index + 1:06d}.png", *face.row()))
    return buffer.getvalue().encode()


def make_demo(
    out_dir: str | os.PathLike[str], n: int = 600, cols: int = 30, seed: int = 0
) -> DemoData:
    """Draw n labelled cartoon faces into out_dir/sprite.png (cols wide) and attributes.csv."""
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
    write_atomic(sprite_path, buffer.getvalue())
    write_atomic(attributes_path, _attributes_csv(traits))
    return DemoData(sprite=sprite_path, grid=f"{cols}x{rows}", attributes=attributes_path, n=n)
