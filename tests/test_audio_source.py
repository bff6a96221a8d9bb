"""A folder of recordings as windows: ids, reading, resampling, cards, and a folder that changes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("scipy")

from fastlabel.data.audio import READ_AHEAD_S, AudioFolder, Windowing, audio_problem, window_array  # noqa: E402
from fastlabel.errors import DataError, InvalidInput, UnknownItem  # noqa: E402

RATE = 16_000  # what the folders here serve


def tone(seconds: float, rate: int, hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def chirp(seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * (300 + 600 * t) * t)).astype(np.float32)


def make_folder(root: Path) -> Path:
    """tone.wav 7 s at 16 kHz (3 windows), sub/chirp.flac 4 s stereo at 44.1 kHz (2), noise.wav 1 s at
    22.05 kHz (1 padded), plus a text file and a damaged WAV that are skipped."""
    (root / "sub").mkdir(parents=True)
    soundfile.write(root / "tone.wav", tone(7, 16_000), 16_000)
    left = chirp(4, 44_100)
    soundfile.write(root / "sub" / "chirp.flac", np.stack([left, left], axis=1), 44_100)
    noise = np.random.default_rng(0).normal(0, 0.1, 22_050).astype(np.float32)
    soundfile.write(root / "noise.wav", noise, 22_050)
    (root / "notes.txt").write_text("not audio")
    (root / "broken.wav").write_bytes(b"RIFF0000WAVEfmt garbage")
    return root


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "rec")


def open_folder(root: Path, home: Path | None = None, **options: object) -> AudioFolder:
    return AudioFolder(root, window_s=3.0, sample_rate=RATE, home_dir=home, **options)  # type: ignore[arg-type]


def test_windows_ids_and_times(folder: Path) -> None:
    audio = open_folder(folder)
    assert audio.media == "audio"
    assert len(audio) == 6 and audio.available().all()
    names = [audio.describe(i)["name"] for i in range(len(audio))]
    assert names == ["noise.wav", "sub/chirp.flac", "sub/chirp.flac", "tone.wav", "tone.wav", "tone.wav"]
    assert audio.describe(5) == {"name": "tone.wav", "start_s": 6.0, "end_s": 7.0}  # clipped to the file
    assert audio.describe(0) == {"name": "noise.wav", "start_s": 0.0, "end_s": 1.0}
    skipped = dict(audio.skipped)
    assert set(skipped) == {"notes.txt", "broken.wav"}
    assert "not a WAV" in skipped["notes.txt"] and "readable" in skipped["broken.wav"]
    with pytest.raises(UnknownItem):
        audio.window(6)


def test_window_samples_padding_mono_and_resampling(folder: Path) -> None:
    audio = open_folder(folder)
    windows = audio.windows(range(len(audio)))
    assert windows.shape == (6, 3 * RATE) and windows.dtype == np.float32
    # the short noise file: 1 s of sound, then silence; the last tone window: 1 s, then silence
    assert np.abs(windows[0, : RATE - 100]).mean() > 0.05 and not windows[0, RATE + 100:].any()
    assert np.abs(windows[5, : RATE - 100]).mean() > 0.2 and not windows[5, RATE + 100:].any()
    # a window reads the same alone, in order after its neighbour, or cut from the array in memory
    assert np.array_equal(audio.window(4), windows[4])
    signal, rate = soundfile.read(folder / "sub" / "chirp.flac", dtype="float32")
    assert signal.ndim == 2  # stereo, mixed to mono
    in_memory = window_array(signal, rate, Windowing(3.0, 3.0, RATE))
    np.testing.assert_allclose(in_memory, windows[1:3], atol=1e-6)
    # 44.1 kHz -> 16 kHz keeps a tone's pitch and level
    mono = window_array(tone(3, 44_100, hz=1000.0), 44_100, Windowing(3.0, 3.0, RATE))[0]
    spectrum = np.abs(np.fft.rfft(mono[RATE:2 * RATE]))
    assert abs(np.argmax(spectrum) - 1000) <= 1
    assert abs(np.abs(mono[RATE:2 * RATE]).max() - 0.5) < 0.01


def test_hop_context_and_wav(folder: Path) -> None:
    audio = open_folder(folder, hop_s=1.0)
    tone_ids = [i for i in range(len(audio)) if audio.describe(i)["name"] == "tone.wav"]
    assert [audio.describe(i)["start_s"] for i in tone_ids] == [0.0, 1.0, 2.0, 3.0, 4.0]  # 7 s: last at 4-7 s
    middle = tone_ids[2]
    assert audio.context_span(middle, 1) == (0.0, 7.0)  # 2-5 s, one 3 s window either side, clipped at 0 and 7
    wide = audio.window(middle, context=1)
    assert len(wide) == 7 * RATE
    np.testing.assert_allclose(wide[2 * RATE:5 * RATE], audio.window(middle), atol=1e-6)
    data, rate = soundfile.read(io.BytesIO(audio.wav_bytes(middle)), dtype="int16")
    assert rate == RATE and len(data) == 3 * RATE and data.ndim == 1
    assert abs(np.abs(data).max() / 32767 - 0.5) < 0.01
    with pytest.raises(InvalidInput):
        audio.window(middle, context=9)


def test_cards_are_spectrograms(folder: Path) -> None:
    from PIL import Image

    audio = open_folder(folder)
    card = Image.open(io.BytesIO(audio.thumbnail(3)))
    assert card.size == (192, 192) and card.format == "PNG"
    pixels = np.asarray(card.convert("RGB"), dtype=np.float32).sum(axis=2)
    rows = pixels.mean(axis=1)
    assert rows.max() > 3 * np.median(rows)  # a 440 Hz tone: one bright band, dark elsewhere
    assert audio.thumbnail(3) is audio.thumbnail(3)  # drawn once
    wide = Image.open(io.BytesIO(audio.closer_look(4, 1)))
    assert wide.size[0] > wide.size[1]


def test_ids_stay_as_the_folder_changes(folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = open_folder(folder, home)
    before = {i: (first.describe(i)["name"], first.describe(i)["start_s"]) for i in range(len(first))}
    # a new file, a touched file, a truncated copy, and a file rewritten shorter
    soundfile.write(folder / "later.wav", tone(4, 16_000, hz=880.0), 16_000)
    os.utime(folder / "noise.wav", (1, 1))
    data = (folder / "sub" / "chirp.flac").read_bytes()
    (folder / "sub" / "chirp.flac").write_bytes(data[: len(data) // 2])
    soundfile.write(folder / "tone.wav", tone(4, 16_000), 16_000)  # now 2 windows, was 3
    again = open_folder(folder, home)
    assert len(again) == len(first) + 2
    for item, where in before.items():  # old ids name the same window
        assert (again.describe(item)["name"], again.describe(item)["start_s"]) == where
    assert [again.describe(i)["name"] for i in (6, 7)] == ["later.wav", "later.wav"]
    served = again.available()
    assert served.tolist() == [True, False, False, True, True, False, True, True]
    assert "truncated" in dict(again.skipped)["sub/chirp.flac"]
    assert again.changes.new == ["later.wav"] and "tone.wav" in again.changes.changed
    # the file comes back whole: its windows are served again under their old ids
    (folder / "sub" / "chirp.flac").write_bytes(data)
    soundfile.write(folder / "tone.wav", tone(7, 16_000), 16_000)
    third = open_folder(folder, home)
    assert len(third) == 8 and third.available().all()
    assert third.fingerprint() == first.fingerprint()
    assert open_folder(folder, home, hop_s=1.0).fingerprint() != first.fingerprint()


def test_truncated_wav_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    soundfile.write(path, tone(5, 8000), 8000)
    assert audio_problem(path) is None
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert "truncated" in (audio_problem(path) or "")


def test_long_recordings_are_read_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "long"
    root.mkdir()
    soundfile.write(root / "hour.flac", tone(150, 8000, hz=300.0), 8000)
    audio = AudioFolder(root, window_s=3.0, sample_rate=8000)
    assert len(audio) == 50
    reads: list[int] = []
    original = soundfile.SoundFile.read

    def spy(self: soundfile.SoundFile, frames: int = -1, *args: object, **kwargs: object) -> np.ndarray:
        reads.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(soundfile.SoundFile, "read", spy)
    windows = audio.windows(range(len(audio)))
    assert windows.shape == (50, 24_000) and np.abs(windows).max() > 0.4
    assert max(reads) <= READ_AHEAD_S * 8000 + 24_000 and 2 <= len(reads) <= 6  # blocks, never the whole file


def test_bad_settings_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no recordings"):
        AudioFolder(tmp_path)
    with pytest.raises(DataError, match="does not exist"):
        AudioFolder(tmp_path / "missing")
    (tmp_path / "a.wav").write_bytes(b"nothing")
    with pytest.raises(DataError, match="could be read"):
        AudioFolder(tmp_path)
    with pytest.raises(InvalidInput, match="window"):
        Windowing(0.0, 1.0, 16_000)
    with pytest.raises(InvalidInput, match="sample rate"):
        Windowing(3.0, 3.0, 10)


def test_ogg_and_mp3_are_read(tmp_path: Path) -> None:
    root = tmp_path / "compressed"
    root.mkdir()
    signal = tone(4, 22_050, hz=660.0)
    written = []
    for name, options in (("a.ogg", {"format": "OGG", "subtype": "VORBIS"}), ("b.mp3", {"format": "MP3"})):
        try:
            soundfile.write(root / name, signal, 22_050, **options)
            written.append(name)
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
            continue  # this libsndfile was built without that codec
    if not written:
        pytest.skip("libsndfile here writes neither OGG nor MP3")
    audio = open_folder(root)
    assert sorted({audio.describe(i)["name"] for i in range(len(audio))}) == written
    for item in range(len(audio)):
        window = audio.window(item)
        spectrum = np.abs(np.fft.rfft(window[: RATE // 2]))
        assert abs(np.argmax(spectrum) * 2 - 660) <= 4  # the tone survives decoding and resampling
