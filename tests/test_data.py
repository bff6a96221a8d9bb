"""Data layer: sprite sheets, image folders, attribute CSVs, demo data, and the real CelebA files."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fastlabel.data import (
    ImageFolder,
    ImageSource,
    SpriteSheet,
    load_source,
    make_demo,
    parse_grid,
    read_attributes,
    read_identities,
)
from fastlabel.errors import DataError, UnknownItem


def write_sprite(path: Path, cols: int, rows: int, tile: int = 48, seed: int = 0) -> np.ndarray:
    """A random-noise sprite (so every tile differs), saved losslessly; returns its pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, (rows * tile, cols * tile, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def decode_png(data: bytes) -> Image.Image:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- sprite sheets ----------------------------------------------------------------------------


@pytest.fixture
def sprite(tmp_path: Path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "sprite.png"
    return path, write_sprite(path, cols=7, rows=4)


def test_parse_grid_accepts_cols_x_rows() -> None:
    assert parse_grid("200x150") == (200, 150)
    assert parse_grid(" 40X25 ") == (40, 25)
    assert parse_grid((3, 2)) == (3, 2)


@pytest.mark.parametrize("bad", ["200", "0x5", "5x0", "axb", "", "3x4x5", "-2x3", "2.5x3"])
def test_parse_grid_refuses_bad_strings(bad: str) -> None:
    with pytest.raises(DataError, match="grid"):
        parse_grid(bad)


@pytest.mark.parametrize("item_id", [0, 1, 6, 7, 13, 27])
def test_sprite_tile_matches_its_pixel_box(sprite: tuple[Path, np.ndarray], item_id: int) -> None:
    path, pixels = sprite
    sheet = SpriteSheet(path, "7x4")
    col, row = item_id % 7, item_id // 7
    expected = pixels[48 * row : 48 * row + 48, 48 * col : 48 * col + 48]
    assert sheet.box(item_id) == (48 * col, 48 * row, 48 * col + 48, 48 * row + 48)
    image = sheet.image(item_id)
    assert image.mode == "RGB" and image.size == (48, 48)
    np.testing.assert_array_equal(np.asarray(image), expected)


def test_sprite_basics(sprite: tuple[Path, np.ndarray]) -> None:
    path, _ = sprite
    sheet = SpriteSheet(path, (7, 4))
    assert isinstance(sheet, ImageSource)
    assert len(sheet) == 28
    assert "sprite.png" in sheet.name and "7x4" in sheet.name


def test_sprite_with_wrong_grid_is_refused_with_both_sizes_and_a_fitting_grid(
    sprite: tuple[Path, np.ndarray],
) -> None:
    path, _ = sprite
    with pytest.raises(DataError) as caught:
        SpriteSheet(path, "200x150")
    message = str(caught.value)
    assert "sprite.png is 336x192 px" in message
    assert "grid 200x150 of 48 px tiles needs 9600x7200 px" in message
    assert "fits 7x4" in message


def test_sprite_of_no_whole_tile_count_says_so(tmp_path: Path) -> None:
    path = tmp_path / "odd.png"
    Image.new("RGB", (100, 50)).save(path)
    with pytest.raises(DataError, match="not a whole number of 48 px tiles"):
        SpriteSheet(path, "2x1")


def test_sprite_other_tile_size(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    pixels = write_sprite(path, cols=5, rows=3, tile=16)
    sheet = SpriteSheet(path, "5x3", tile=16)
    np.testing.assert_array_equal(np.asarray(sheet.image(14)), pixels[32:48, 64:80])
    assert decode_png(sheet.thumbnail(14)).size == (16, 16)


def test_sprite_missing_or_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        SpriteSheet(tmp_path / "nope.png", "2x2")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="cannot read"):
        SpriteSheet(garbage, "2x2")


def test_partial_last_row_via_count(sprite: tuple[Path, np.ndarray]) -> None:
    path, pixels = sprite
    sheet = SpriteSheet(path, "7x4", count=23)
    assert len(sheet) == 23
    np.testing.assert_array_equal(np.asarray(sheet.image(22)), pixels[144:192, 48:96])
    with pytest.raises(UnknownItem):
        sheet.image(23)
    for count in (0, 29):
        with pytest.raises(DataError, match="count"):
            SpriteSheet(path, "7x4", count=count)


@pytest.mark.parametrize("item_id", [-1, 28, "3", 2.0, None, True])
def test_sprite_unknown_ids(sprite: tuple[Path, np.ndarray], item_id: object) -> None:
    sheet = SpriteSheet(sprite[0], "7x4")
    with pytest.raises(UnknownItem):
        sheet.image(item_id)  # type: ignore[arg-type]
    with pytest.raises(UnknownItem):
        sheet.thumbnail(item_id)  # type: ignore[arg-type]


def test_sprite_accepts_numpy_ids(sprite: tuple[Path, np.ndarray]) -> None:
    sheet = SpriteSheet(sprite[0], "7x4")
    assert sheet.thumbnail(np.int64(5)) == sheet.thumbnail(5)


def test_sprite_thumbnails_are_48px_pngs_of_the_tile(sprite: tuple[Path, np.ndarray]) -> None:
    path, pixels = sprite
    sheet = SpriteSheet(path, "7x4")
    thumb = decode_png(sheet.thumbnail(9))
    assert thumb.size == (48, 48)
    np.testing.assert_array_equal(np.asarray(thumb.convert("RGB")), pixels[48:96, 96:144])
    assert sheet.thumbnail(9) is sheet.thumbnail(9)  # cached


def test_sprite_fingerprint_is_stable_and_tracks_pixels_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "sprite.png"
    pixels = write_sprite(path, cols=4, rows=2)
    first = SpriteSheet(path, "4x2").fingerprint()
    assert len(first) == 64 and int(first, 16) >= 0
    assert SpriteSheet(path, "4x2").fingerprint() == first
    assert SpriteSheet(path, "4x2", count=7).fingerprint() != first
    pixels[50, 60, 1] ^= 1
    Image.fromarray(pixels).save(path)
    assert SpriteSheet(path, "4x2").fingerprint() != first


def test_sprite_converts_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    Image.new("L", (96, 48), 128).save(path)
    image = SpriteSheet(path, "2x1").image(1)
    assert image.mode == "RGB" and image.getpixel((0, 0)) == (128, 128, 128)


# --- image folders ----------------------------------------------------------------------------


def make_folder(root: Path) -> dict[str, tuple[int, int, int]]:
    """A small tree of images of several formats and sizes; returns relative path -> colour."""
    files = {
        "b.png": ((120, 60), (255, 0, 0)),
        "a.JPG": ((50, 80), (0, 255, 0)),
        "sub/c.webp": ((64, 64), (0, 0, 255)),
        "sub/deeper/d.bmp": ((30, 40), (200, 200, 0)),
        "e.gif": ((40, 40), (0, 0, 0)),
    }
    for relative, (size, color) in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, color).save(path)
    (root / "notes.txt").write_text("not an image")
    return {relative: color for relative, (_, color) in files.items()}


def test_folder_is_recursive_and_sorted(tmp_path: Path) -> None:
    make_folder(tmp_path)
    folder = ImageFolder(tmp_path)
    assert isinstance(folder, ImageSource)
    assert folder.paths == ["a.JPG", "b.png", "e.gif", "sub/c.webp", "sub/deeper/d.bmp"]
    assert len(folder) == 5
    assert folder.skipped == []
    assert folder.image(1).size == (120, 60)
    assert folder.image(1).getpixel((3, 3)) == (255, 0, 0)
    assert folder.image(4).mode == "RGB"


def test_folder_skips_and_reports_corrupt_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_folder(tmp_path)
    (tmp_path / "x.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg \x00" * 20)
    with caplog.at_level(logging.WARNING, logger="fastlabel.data.folder"):
        folder = ImageFolder(tmp_path)
    assert folder.paths[5] == "x.jpg" and not folder.available()[5] and folder.available().sum() == 5
    assert [path for path, _ in folder.skipped] == ["x.jpg"]
    assert folder.skipped[0][1]  # a reason is given
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "x.jpg" in warnings[0].getMessage()


def test_folder_thumbnails_are_letterboxed_pngs(tmp_path: Path) -> None:
    make_folder(tmp_path)
    folder = ImageFolder(tmp_path, thumb_size=32)
    sizes = [decode_png(folder.thumbnail(item_id)).size for item_id in range(len(folder))]
    assert sizes == [(20, 32), (32, 16), (32, 32), (32, 32), (24, 32)]  # whole images, aspect kept
    assert decode_png(folder.thumbnail(1)).convert("RGB").getpixel((16, 8)) == (255, 0, 0)


def test_folder_unknown_ids(tmp_path: Path) -> None:
    make_folder(tmp_path)
    folder = ImageFolder(tmp_path)
    for item_id in (-1, 5, "3"):
        with pytest.raises(UnknownItem):
            folder.image(item_id)  # type: ignore[arg-type]
        with pytest.raises(UnknownItem):
            folder.thumbnail(item_id)  # type: ignore[arg-type]


def test_folder_applies_exif_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (60, 20), (10, 20, 30)).save(tmp_path / "rotated.jpg", exif=exif)
    assert ImageFolder(tmp_path).image(0).size == (20, 60)


def test_empty_missing_and_all_bad_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no image files"):
        ImageFolder(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "x.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="could be read"):
        ImageFolder(tmp_path)


def test_folder_fingerprint_names_the_folder_not_its_content(tmp_path: Path) -> None:
    make_folder(tmp_path)
    first = ImageFolder(tmp_path).fingerprint()
    Image.new("RGB", (10, 10)).save(tmp_path / "new.png")
    assert ImageFolder(tmp_path).fingerprint() == first  # ids keep their meaning as files come and go
    other = tmp_path / "sub"
    assert ImageFolder(other).fingerprint() != first


# --- load_source ------------------------------------------------------------------------------


def test_load_source_picks_the_right_kind(sprite: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = sprite
    assert isinstance(load_source(sprite=path, grid="7x4"), SpriteSheet)
    images = tmp_path / "images"
    make_folder(images)
    assert isinstance(load_source(images=images), ImageFolder)
    with pytest.raises(DataError, match="exactly one"):
        load_source()
    with pytest.raises(DataError, match="exactly one"):
        load_source(sprite=path, grid="7x4", images=images)


def test_load_source_infers_grid_only_from_whole_tiles(sprite: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    path, _ = sprite
    sheet = load_source(sprite=path)
    assert isinstance(sheet, SpriteSheet) and (sheet.cols, sheet.rows) == (7, 4)
    odd = tmp_path / "odd.png"
    Image.new("RGB", (100, 96)).save(odd)
    with pytest.raises(DataError, match="COLSxROWS"):
        load_source(sprite=odd)


# --- attributes -------------------------------------------------------------------------------


def test_attributes_round_trip(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "image_id,Smiling,Male\n1.jpg,1,0\n2.jpg,0,0\n3.jpg,1,1\n")
    attributes = read_attributes(path, n_items=3)
    assert attributes.names == ("Smiling", "Male")
    assert attributes.values.dtype == np.uint8 and attributes.values.shape == (3, 2)
    np.testing.assert_array_equal(attributes.column("Smiling"), [1, 0, 1])
    np.testing.assert_array_equal(attributes.column("Male"), [0, 0, 1])
    assert len(attributes) == 3


def test_attributes_map_celeba_minus_one_to_zero(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "image_id,Smiling\n1.jpg,-1\n2.jpg,1\n3.jpg,-1\n")
    np.testing.assert_array_equal(read_attributes(path).column("Smiling"), [0, 1, 0])


def test_attributes_wrong_row_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "image_id,Smiling\n1.jpg,1\n2.jpg,0\n")
    with pytest.raises(DataError, match=r"a\.csv has 2 rows but the data source has 3 items"):
        read_attributes(path, n_items=3)


def test_attributes_bad_value_names_file_line_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", "image_id,Smiling,Male\n1.jpg,1,0\n2.jpg,0,yes\n")
    with pytest.raises(DataError, match=r"a\.csv, line 3: Male is 'yes'"):
        read_attributes(path)
    path = write_csv(tmp_path / "b.csv", "image_id,Smiling\n1.jpg,2\n")
    with pytest.raises(DataError, match="line 2"):
        read_attributes(path)


def test_attributes_bad_shapes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no image_id column"):
        read_attributes(write_csv(tmp_path / "a.csv", "name,Smiling\n1.jpg,1\n"))
    with pytest.raises(DataError, match="line 2: 3 values"):
        read_attributes(write_csv(tmp_path / "b.csv", "image_id,Smiling\n1.jpg,1,0\n"))
    with pytest.raises(DataError, match="empty"):
        read_attributes(write_csv(tmp_path / "c.csv", ""))
    with pytest.raises(DataError, match="does not exist"):
        read_attributes(tmp_path / "missing.csv")


def test_attributes_unknown_column_lists_available(tmp_path: Path) -> None:
    attributes = read_attributes(write_csv(tmp_path / "a.csv", "image_id,Smiling,Male\n1.jpg,1,0\n"))
    with pytest.raises(DataError, match="available: Smiling, Male"):
        attributes.column("Bald")


def test_identities(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "i.csv", "image_id,identity\n1.jpg,2880\n2.jpg,7\n")
    identities = read_identities(path, n_items=2)
    assert identities.dtype == np.int64
    np.testing.assert_array_equal(identities, [2880, 7])
    with pytest.raises(DataError, match="2 rows"):
        read_identities(path, n_items=3)
    bad = write_csv(tmp_path / "j.csv", "image_id,identity\n1.jpg,x\n")
    with pytest.raises(DataError, match="line 2"):
        read_identities(bad)


# --- demo data --------------------------------------------------------------------------------


def test_demo_is_deterministic_per_seed(tmp_path: Path) -> None:
    first = make_demo(tmp_path / "a", n=40, cols=8, seed=3)
    again = make_demo(tmp_path / "b", n=40, cols=8, seed=3)
    other = make_demo(tmp_path / "c", n=40, cols=8, seed=4)
    assert first.grid == "8x5" and first.n == 40
    assert first.sprite.read_bytes() == again.sprite.read_bytes()
    assert first.attributes.read_bytes() == again.attributes.read_bytes()
    assert first.sprite.read_bytes() != other.sprite.read_bytes()


def test_demo_partial_last_row_is_black(tmp_path: Path) -> None:
    demo = make_demo(tmp_path, n=10, cols=4)
    assert demo.grid == "4x3"
    sheet = SpriteSheet(demo.sprite, demo.grid, count=demo.n)
    assert len(sheet) == 10
    assert not sheet.pixels[96:144, 96:192].any()
    assert sheet.pixels[96:144, 0:48].any()


def test_demo_sprite_and_attributes_load(demo_dir: Path) -> None:
    sheet = load_source(sprite=demo_dir / "sprite.png", grid="30x20")
    assert len(sheet) == 600
    attributes = read_attributes(demo_dir / "attributes.csv", n_items=len(sheet))
    assert attributes.names == ("Smiling", "Eyeglasses", "Wearing_Hat", "Male", "Blond_Hair")
    first_row = (demo_dir / "attributes.csv").read_text().splitlines()[1]
    assert first_row.startswith("000001.png,")
    # faces differ from one another
    tiles = np.stack([np.asarray(sheet.image(i), dtype=float) for i in range(20)])
    assert tiles.std(axis=0).mean() > 20


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [("Smiling", 0.4, 0.6), ("Male", 0.35, 0.55), ("Eyeglasses", 0.08, 0.23),
     ("Wearing_Hat", 0.06, 0.19), ("Blond_Hair", 0.12, 0.28)],
)
def test_demo_attribute_rates(demo_dir: Path, name: str, low: float, high: float) -> None:
    rate = read_attributes(demo_dir / "attributes.csv").column(name).mean()
    assert low <= rate <= high


def test_demo_refuses_empty(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        make_demo(tmp_path, n=0)


# --- real CelebA data (skipped when ../shared/data is absent) ---------------------------------


@pytest.mark.celeba
def test_celeba1k(celeba_dir: Path) -> None:
    folder = celeba_dir / "celeba1k"
    sheet = load_source(sprite=folder / "sprite.png", grid="40x25")
    assert len(sheet) == 1000 and (sheet.cols, sheet.rows) == (40, 25)
    assert decode_png(sheet.thumbnail(999)).size == (48, 48)
    attributes = read_attributes(folder / "attributes.csv", n_items=len(sheet))
    assert attributes.values.shape == (1000, 40)
    assert "Smiling" in attributes.names
    assert 0.3 < attributes.column("Smiling").mean() < 0.7


@pytest.mark.celeba
def test_celeba10k(celeba_dir: Path) -> None:
    folder = celeba_dir / "celeba10k"
    sheet = SpriteSheet(folder / "sprite.jpg", "100x100")
    assert len(sheet) == 10_000
    assert sheet.image(9999).size == (48, 48)
    identities = read_identities(folder / "identities.csv", n_items=len(sheet))
    assert len(np.unique(identities)) == 5429
