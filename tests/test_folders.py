"""A user's own messy folder of photos: stable ids across changes, bad files skipped at any stage,
whole and correctly scaled images, incremental embedding, start-up failures, and honest estimates."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest
from PIL import Image

from fastlabel.cli import main as cli_main
from fastlabel.config import Config
from fastlabel.data import ImageFolder
from fastlabel.data.decode import decode_image
from fastlabel.embeddings import embed_source
from fastlabel.embeddings.base import l2_normalise
from fastlabel.embeddings.incremental import ItemsView
from fastlabel.errors import DataError
from fastlabel.session.estimates import quality_estimates
from fastlabel.events import EventLog
from fastlabel.session import LabelingSession
from fastlabel.workspace import open_workspace

from messy_folder import make_messy_folder, shape_image, sixteen_bit_png, truncated_jpeg

REPO_ROOT = Path(__file__).absolute().parent.parent


class CountingEncoder:
    """Tiny per-image features (4 x 4 colours); remembers which ids it was asked to embed."""

    id = "test:colours4"
    has_text = False
    logit_scale = 1.0
    incremental = True

    def __init__(self) -> None:
        self.encoded: list[int] = []

    def encode_images(self, source, progress=None) -> np.ndarray:
        self.encoded += list(getattr(source, "ids", range(len(source))))
        rows = [np.asarray(source.image(i).resize((4, 4)), np.float32).reshape(-1) / 255 for i in range(len(source))]
        return l2_normalise(np.stack(rows) - 0.5)

    def encode_text(self, text: str) -> np.ndarray:
        raise NotImplementedError


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("messy") / "photos"
    return root, make_messy_folder(root)


def copy_messy(messy: tuple[Path, dict], tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    shutil.copytree(messy[0], root, symlinks=True)
    return root


# -- the folder scan ------------------------------------------------------------------------------


def test_messy_folder_serves_every_good_file_once_and_lists_the_rest(messy) -> None:
    root, info = messy
    folder = ImageFolder(root)
    served = {folder.paths[i] for i in np.flatnonzero(folder.available())}
    skipped = dict(folder.skipped)
    # until its full decode fails, the truncated JPEG counts as served (its header is whole)
    assert served == set(info["good"]) - {"neg/square_01.jpg"} | {"neg/copy_of_square.gif", "neg/truncated.jpg"}
    # identical content is served once, under its first id; the other copy is listed as a duplicate
    assert "same image as neg/copy_of_square.gif" in skipped["neg/square_01.jpg"]
    assert "same image as pos/circle_00.png" in skipped["pos/link_to_circle.png"]
    assert skipped["empty.png"] == "empty file (0 bytes)"
    assert "cannot identify" in skipped["notes.jpg"]
    assert skipped["dangling.png"] == "broken link to gone.png"
    assert not any(p.startswith(".") or "/loop/" in p for p in folder.paths)  # hidden folder, link loop
    # the truncated JPEG passes the header check; its full decode fails with the reason
    assert folder.available()[folder.paths.index("neg/truncated.jpg")]
    with pytest.raises(DataError, match="truncated"):
        folder.image(folder.paths.index("neg/truncated.jpg"))


def test_awkward_images_decode_upright_rgb(messy) -> None:
    root, _ = messy
    assert decode_image(root / "pos/rotated.jpg").size == (40, 90)  # EXIF orientation applied
    for name in ("neg/cmyk.jpg", "pos/alpha.png", "neg/palette.png", "pos/animated.gif", "pos/café ☕.png"):
        assert decode_image(root / name).mode == "RGB"


def test_sixteen_bit_images_are_scaled_not_clipped(messy) -> None:
    root, _ = messy
    folder = ImageFolder(root)
    circle = np.asarray(folder.image(folder.paths.index("pos/gray16_circle.png")), dtype=np.int16)
    square = np.asarray(folder.image(folder.paths.index("neg/gray16_square.png")), dtype=np.int16)
    assert circle[32, 32, 0] == round(6000 / 257) and circle[1, 1, 0] == round(40000 / 257)
    assert np.abs(circle - square).mean() > 10  # a circle and a square no longer look alike
    thumb = np.asarray(Image.open(io.BytesIO(folder.thumbnail(folder.paths.index("pos/gray16_circle.png")))))
    assert thumb.std() > 20 and thumb.max() < 255  # not a blank white card
    # and what the model sees: the two embeddings differ from each other and from a blank image's
    ids = [folder.paths.index("pos/gray16_circle.png"), folder.paths.index("neg/gray16_square.png")]
    c, q = CountingEncoder().encode_images(ItemsView(folder, ids))
    blank = np.asarray(Image.new("RGB", (4, 4), "white"), np.float32).reshape(-1) / 255
    blank_row = l2_normalise(blank[None] - 0.5)[0]
    assert np.linalg.norm(c - q) > 0.1 and np.linalg.norm(c - blank_row) > 0.5


def test_thumbnails_keep_the_whole_image(messy) -> None:
    root, _ = messy
    folder = ImageFolder(root)
    pano = Image.open(io.BytesIO(folder.thumbnail(folder.paths.index("pos/panorama.png"))))
    assert pano.size == (192, 38)  # 600 x 120 fit into the 192 px square: aspect kept, nothing cut
    edge = np.asarray(pano.convert("RGB"))[:, -12:].astype(int)
    assert edge.sum(axis=2).min() < 300  # the dark circle at the right edge is on the card


# -- one bad file never blocks the rest -----------------------------------------------------------


def test_truncated_jpeg_among_good_ones_is_skipped_and_remembered(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(6):
        shape_image("circle" if i % 2 else "square", (40, 40), i).save(root / f"good{i}.jpg")
    truncated_jpeg(root / "bad.jpg")
    encoder, home = CountingEncoder(), tmp_path / "home"
    folder = ImageFolder(root, registry_dir=home / "folders")
    bad = folder.paths.index("bad.jpg")
    rows = embed_source(folder, encoder, home / "cache")
    norms = np.linalg.norm(rows, axis=1)
    assert rows.shape == (7, 48) and norms[bad] == 0 and np.allclose(np.delete(norms, bad), 1)
    assert "truncated" in dict(folder.skipped)["bad.jpg"] and not folder.available()[bad]
    # the next start neither decodes it again nor re-embeds the good ones
    encoder.encoded.clear()
    again = ImageFolder(root, registry_dir=home / "folders")
    np.testing.assert_array_equal(embed_source(again, encoder, home / "cache"), rows)
    assert encoder.encoded == [] and "truncated" in dict(again.skipped)["bad.jpg"]
    # a repaired file (new content) is tried again
    shape_image("circle", (40, 40), 9).save(root / "bad.jpg")
    fixed = ImageFolder(root, registry_dir=home / "folders")
    embed_source(fixed, encoder, home / "cache")
    assert encoder.encoded == [bad] and fixed.available()[bad] and fixed.skipped == []


def test_a_thumbnail_that_fails_stops_the_item_being_served(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    root.mkdir()
    for i in range(3):
        shape_image("circle", (40, 40), i).save(root / f"{i}.png")
    folder = ImageFolder(root)
    (root / "1.png").write_bytes((root / "1.png").read_bytes()[:60])  # broken after the start
    placeholder = Image.open(io.BytesIO(folder.thumbnail(1)))
    assert placeholder.size == (192, 192)
    assert not folder.available()[1] and "1.png" in dict(folder.skipped)


# -- stable ids across starts ---------------------------------------------------------------------


def start(photos: Path, home: Path, encoder: CountingEncoder, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("fastlabel.workspace.encoder_from_config", lambda config: encoder)
    encoder.encoded.clear()
    return open_workspace(Config(images=photos, home=home, encoder="test"))


def export_rows(ws) -> dict[str, dict]:
    return {row["path"]: row for row in map(orjson.loads, ws.export_labels_jsonl().splitlines())}


def test_labels_survive_add_touch_modify_remove_between_starts(messy, tmp_path, monkeypatch) -> None:
    photos, home, encoder = copy_messy(messy, tmp_path), tmp_path / "home", CountingEncoder()
    good = messy[1]["good"]
    ws = start(photos, home, encoder, monkeypatch)
    journal = ws.session.log.journal
    ids = {path: i for i, path in enumerate(ws.source.paths)}
    labeled = ["pos/circle_02.webp", "neg/square_03.bmp", "pos/panorama.png", "neg/cmyk.jpg"]
    ws.session.submit([(ids[p], good[p]) for p in labeled])
    n_first = len(ws.source)
    assert len(encoder.encoded) == int(ws.source.available().sum()) + 1  # + the truncated one, tried once
    ws.session.log.close()

    # touch: nothing changes, nothing is embedded, same journal, same labels
    os.utime(photos / "pos/circle_02.webp")
    ws = start(photos, home, encoder, monkeypatch)
    assert encoder.encoded == [] and ws.session.log.journal == journal
    assert ws.summary()["folder_changes"] == {"new": 0, "changed": 0, "removed": 0, "first_start": False,
                                              "summary": "0 new, 0 changed, 0 removed"}
    assert {ws.source.paths[i]: y for i, y in ws.session.state.labels.items()} == {p: good[p] for p in labeled}
    ws.session.log.close()

    # add two files: they get the next ids and are the only ones embedded
    shape_image("circle", (50, 50), 70).save(photos / "pos/new_a.png")
    shape_image("square", (50, 50), 71).save(photos / "neg/new_b.jpg")
    ws = start(photos, home, encoder, monkeypatch)
    assert ws.source.paths[n_first:] == ["neg/new_b.jpg", "pos/new_a.png"]
    assert sorted(encoder.encoded) == [n_first, n_first + 1]
    assert ws.summary()["folder_changes"]["summary"] == "2 new, 0 changed, 0 removed"
    assert {ws.source.paths[i]: y for i, y in ws.session.state.labels.items()} == {p: good[p] for p in labeled}
    ws.session.submit([(n_first, 1)])  # an id beyond the first start's count is accepted
    ws.session.log.close()

    # modify a labeled file and remove another: re-embedded and flagged; dropped from the pool, label kept
    shape_image("square", (64, 64), 72).save(photos / "neg/square_03.bmp")
    os.remove(photos / "pos/panorama.png")
    ws = start(photos, home, encoder, monkeypatch)
    assert encoder.encoded == [ids["neg/square_03.bmp"]]
    summary = ws.summary()
    assert summary["folder_changes"]["summary"] == "0 new, 1 changed, 1 removed"
    assert summary["review"] == [{"id": ids["neg/square_03.bmp"], "path": "neg/square_03.bmp", "label": 0}]
    assert len(ws.session.state.labels) == 5
    rows = export_rows(ws)
    assert rows["pos/panorama.png"]["missing"] is True and "missing" not in rows["neg/cmyk.jpg"]
    predictions = {item["path"]: item for item in ws.predictions()["items"]}
    assert predictions["pos/panorama.png"]["missing"] is True
    served = set()
    while True:
        page = ws.session.next_batch("random", 12)
        if not page.ids:
            break
        served |= set(page.ids)
        ws.session.submit([(i, 0) for i in page.ids], batch_id=page.batch_id)
    assert ids["pos/panorama.png"] not in served and ids["pos/link_to_circle.png"] not in served
    assert served | set(ws.session.state.labels) >= set(np.flatnonzero(ws.source.available()))
    ws.session.log.close()


def test_a_different_sprite_is_still_refused(demo_dir: Path, tmp_path: Path) -> None:
    journal = tmp_path / "s.jsonl"
    cfg = Config(sprite=demo_dir / "sprite.png", grid="30x20", encoder="pixels", home=tmp_path, session=journal)
    open_workspace(cfg).session.log.close()
    other = tmp_path / "other.png"
    Image.open(demo_dir / "sprite.png").transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(other)
    with pytest.raises(Exception, match="other data"):
        open_workspace(Config(sprite=other, grid="30x20", encoder="pixels", home=tmp_path, session=journal))


# -- estimates count labeled audit cards of submitted pages only ----------------------------------


def test_estimates_ignore_pages_replaced_by_a_strategy_switch() -> None:
    rng = np.random.default_rng(0)
    x = l2_normalise(rng.normal(size=(120, 8)))
    truth = (x[:, 0] > 0).astype(int)
    session = LabelingSession(x, EventLog())
    submitted, audit_cards = 0, 0
    while session.next_batch("random", 24).ids:  # shown, then replaced by a switch
        page = session.next_batch("borderline", 24)
        if not page.ids:
            break
        session.submit([(i, int(truth[i])) for i in page.ids], batch_id=page.batch_id)
        submitted += 1
        audit_cards += len(session.state.batch(page.batch_id).audit)
    est = quality_estimates(session.state, session.probs)
    assert submitted >= 4
    assert est.hidden_positives is not None and est.hidden_positives.n_pages == submitted
    assert est.audit_cards == audit_cards


# -- start-up failures exit non-zero with the reason ---------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["--images", "/nonexistent/photos"], "does not exist"),
    (["--images", "{photos}", "--grid", "10x10"], "--grid"),
    (["--images", "{photos}", "--sprite", "x.png"], "not both"),
])
def test_contradicting_or_missing_data_flags_exit_2(tmp_path, capsys, args, message) -> None:
    (tmp_path / "photos").mkdir()
    argv = ["embed", "--home", str(tmp_path), *(a.format(photos=tmp_path / "photos") for a in args)]
    assert cli_main(argv) == 2
    assert message in capsys.readouterr().err


def serve_until_exit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "fastlabel", "serve", "--port", "0", "--encoder", "pixels",
           "--home", str(tmp_path / "home"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)


def test_serve_exits_non_zero_when_the_data_cannot_load(tmp_path: Path) -> None:
    empty, bad = tmp_path / "empty", tmp_path / "bad"
    empty.mkdir()
    bad.mkdir()
    (bad / "a.jpg").write_text("text")
    truncated_jpeg(bad / "b.jpg")
    done = serve_until_exit(tmp_path, "--images", str(empty))
    assert done.returncode == 2 and "no image files" in done.stderr
    done = serve_until_exit(tmp_path, "--images", str(bad))
    assert done.returncode == 2 and "could be decoded" in done.stderr and "truncated" in done.stderr


def test_serve_exits_non_zero_on_a_wrong_grid(demo_dir: Path, tmp_path: Path) -> None:
    done = serve_until_exit(tmp_path, "--sprite", str(demo_dir / "sprite.png"), "--grid", "7x7")
    assert done.returncode == 2 and "fits 30x20" in done.stderr
