"""The media seam: every source declares what its items are, and only encoders of that media embed them."""

from __future__ import annotations

import re

import numpy as np
import pytest

from fastlabel.cli import main
from fastlabel.data import ImageFolder, SpriteSheet
from fastlabel.data.media import AUDIO, IMAGE, MEDIA, check_encoder_fits, media_kind, media_of
from fastlabel.embeddings import make_encoder
from fastlabel.embeddings.incremental import ItemsView
from fastlabel.embeddings.pixels import PixelEncoder
from fastlabel.errors import DataError, InvalidInput


class Recordings:
    """A stand-in audio source: windows of a tone, the third one unreadable."""

    media = "audio"
    name = "tones"
    window_s = 0.5
    sample_rate = 8000

    def __len__(self) -> int:
        return 4

    def window(self, item: int) -> np.ndarray:
        if item == 2:
            raise DataError("truncated file")
        t = np.arange(int(self.window_s * self.sample_rate)) / self.sample_rate
        return np.sin(2 * np.pi * 440 * (item + 1) * t).astype(np.float32)


def test_image_sources_declare_image(tmp_path, demo_dir):
    sprite = SpriteSheet(demo_dir / "sprite.png", "30x20")
    assert media_of(sprite) is IMAGE
    (tmp_path / "a.png").write_bytes(sprite.thumbnail(0))
    assert media_of(ImageFolder(tmp_path)) is IMAGE
    assert media_of(object()) is IMAGE  # a source that says nothing holds images, as before
    assert set(MEDIA) == {"image", "audio"} and media_kind("audio") is AUDIO


def test_unknown_media_is_refused():
    with pytest.raises(InvalidInput, match="unknown media 'video'"):
        media_kind("video")


def test_an_image_encoder_refuses_audio_and_says_which_fit():
    with pytest.raises(InvalidInput, match="does not embed audio.*birdnet, logmel"):
        make_encoder("imagenet", media="audio")
    with pytest.raises(InvalidInput, match="does not embed audio"):
        make_encoder("pixels", media="audio")
    with pytest.raises(InvalidInput, match="does not embed image.*clip, imagenet"):
        make_encoder("logmel", media="image")
    with pytest.raises(InvalidInput, match="embeds image, but tones holds audio"):
        check_encoder_fits(PixelEncoder(), Recordings())
    check_encoder_fits(PixelEncoder(), object())  # images: fits


def test_a_view_decodes_as_the_media_does_and_stands_in_for_failures():
    view = ItemsView(Recordings(), [1, 2, 3])  # type: ignore[arg-type]
    assert view.media == "audio" and view.sample_rate == 8000  # the source's rate, for the encoder
    assert view.window(0).shape == (4000,) and np.abs(view.window(0)).max() > 0.9
    silent = view.window(1)
    assert silent.shape == (4000,) and not silent.any()
    assert view.failures == {2: "truncated file"}


@pytest.mark.parametrize("argv, message", [
    (["--audio", "{tmp}", "--encoder", "imagenet"], "--encoder imagenet does not embed audio"),
    (["--images", "{tmp}", "--audio", "{tmp}"], "give --images or --audio, not both"),
    (["--window", "3"], "--window cut recordings into windows; give the folder with --audio DIR"),
    (["--audio", "{tmp}", "--hop", "0"], "--hop must be a positive number of seconds"),
    (["--audio", "{tmp}/absent"], "recordings folder .* does not exist"),
])
def test_cli_refuses_audio_flags_that_do_not_fit(tmp_path, capsys, argv, message):
    home = tmp_path / "home"
    code = main(["embed", "--home", str(home), *[a.format(tmp=tmp_path) for a in argv]])
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
