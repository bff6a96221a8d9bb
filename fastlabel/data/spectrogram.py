"""Log-mel spectrograms: the numbers the `logmel` encoder summarises and the pictures audio cards show.

numpy and scipy's single-precision FFT (plus Pillow for the PNG): a Hann-windowed STFT, a triangular mel filter bank, power in
dB against full scale (a full-scale sine reads about 0 dB), and for pictures a fixed dB range mapped
through a magma-like colour map, so the same sound looks the same on every card. The frequency range
follows the sample rate: up to 15 kHz at 48 kHz (BirdNET), up to the Nyquist frequency below 30 kHz
(0-4 kHz for 8 kHz speech, 0-8 kHz at 16 kHz).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.sparse
from PIL import Image, ImageDraw

from fastlabel.data.base import png_bytes

CARD_SIZE = (192, 192)  # width, height in px: twice the 96 px card, as for image thumbnails
WIDE_HEIGHT = 256  # the closer look: a taller picture, as wide as its duration asks
WIDE_PX_PER_SECOND = 64
DB_RANGE = (-100.0, -20.0)  # dBFS shown from black to white on every card
CARD_MELS = 96
MARK_RGBA = (255, 255, 255, 150)  # the brackets around a window inside its context: white, see-through
MARK_TICK_PX = 10  # how far a bracket's ends reach in
FMIN_HZ = 0.0
FMAX_HZ = 15_000.0  # above this, few sounds of interest and much hiss

# magma-like anchors (black - purple - red - orange - pale yellow), equally spaced, lightness rising
# monotonically; the table is interpolated between them
_ANCHORS = np.array([
    (0, 0, 4), (28, 16, 68), (79, 18, 123), (129, 37, 129), (181, 54, 122),
    (229, 80, 100), (251, 135, 97), (254, 194, 135), (252, 253, 191),
], dtype=np.float64)


def colour_table(size: int = 256) -> np.ndarray:
    """(size, 3) uint8 colour map from dark (quiet) to bright (loud)."""
    positions = np.linspace(0.0, 1.0, len(_ANCHORS))
    t = np.linspace(0.0, 1.0, size)
    return np.stack([np.interp(t, positions, _ANCHORS[:, c]) for c in range(3)], axis=1).round().astype(np.uint8)


COLOURS = colour_table()


def frequency_range(sample_rate: int) -> tuple[float, float]:
    """(fmin, fmax) in Hz a picture or feature of audio at this rate covers."""
    return FMIN_HZ, min(FMAX_HZ, sample_rate / 2.0)


def fft_size(sample_rate: int) -> int:
    """A power of two near 20 ms: 256 at 8 kHz, 512 at 16 kHz, 1024 at 48 kHz."""
    return int(2 ** np.ceil(np.log2(max(64, sample_rate * 0.02))))


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=16)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> scipy.sparse.csr_matrix:
    """(n_mels, n_fft // 2 + 1) sparse float32 triangles, each summing to 1: a band's value is the mean
    power of the FFT bins under it. A band narrower than the bin spacing takes its nearest bin. Sparse
    (each bin is under at most two bands), so applying it is a few multiplications per bin, single-threaded:
    a dense product went through the BLAS's threads, which stall on a busy machine."""
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / np.maximum(centre - lower, 1e-9)
    falling = (upper - bins[None, :]) / np.maximum(upper - centre, 1e-9)
    weights = np.clip(np.minimum(rising, falling), 0.0, None)  # (n_mels, bins)
    empty = weights.sum(axis=1) == 0
    if empty.any():
        nearest = np.abs(bins[None, :] - centre[empty]).argmin(axis=1)
        weights[np.flatnonzero(empty), nearest] = 1.0
    weights /= weights.sum(axis=1, keepdims=True)
    return scipy.sparse.csr_matrix(weights.astype(np.float32))


def mel_bands(power: np.ndarray, filters: scipy.sparse.csr_matrix) -> np.ndarray:
    """(..., bins) power -> (..., n_mels) float32 band power."""
    flat = power.reshape(-1, power.shape[-1])
    bands = np.asarray((filters @ flat.T).T, dtype=np.float32)
    return bands.reshape(*power.shape[:-1], filters.shape[0])


@lru_cache(maxsize=16)
def hann(n_fft: int) -> np.ndarray:
    """A periodic Hann window of n_fft float32 samples (read-only, shared)."""
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    window.flags.writeable = False
    return window


def frames(signal: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """(..., T, n_fft) overlapping frames of (..., N) signals (zero-padded so every sample is in a frame);
    a read-only view where no padding was needed."""
    n = signal.shape[-1]
    count = 1 + max(0, int(np.ceil((n - n_fft) / hop)))
    need = (count - 1) * hop + n_fft
    if need > n:
        pad = [(0, 0)] * (signal.ndim - 1) + [(0, need - n)]
        signal = np.pad(signal, pad)
    view = np.lib.stride_tricks.sliding_window_view(signal, n_fft, axis=-1)
    return view[..., ::hop, :][..., :count, :]


def log_mel(signal: np.ndarray, sample_rate: int, *, n_mels: int = 64, hop: int | None = None,
            n_fft: int | None = None, fmin: float | None = None, fmax: float | None = None) -> np.ndarray:
    """(..., T, n_mels) float32 power in dB re full scale of (..., N) float signals at `sample_rate`.

    `hop` defaults to half the FFT size; the frequency range to `frequency_range(sample_rate)`."""
    n_fft = n_fft or fft_size(sample_rate)
    hop = hop or n_fft // 2
    low, high = frequency_range(sample_rate)
    fmin = low if fmin is None else fmin
    fmax = high if fmax is None else fmax
    window = hann(n_fft)
    chunked = frames(np.asarray(signal, dtype=np.float32), n_fft, hop) * window
    spectrum = scipy.fft.rfft(chunked, axis=-1)  # float32 in, complex64 out
    power = spectrum.real ** 2 + spectrum.imag ** 2
    power *= np.float32(4.0 / window.sum() ** 2)  # a full-scale sine peaks near 1 (0 dB)
    bands = mel_bands(power, mel_filters(sample_rate, n_fft, n_mels, float(fmin), float(fmax)))
    return (10.0 * np.log10(np.maximum(bands, 1e-12))).astype(np.float32)


def to_levels(db: np.ndarray, db_range: tuple[float, float] = DB_RANGE) -> np.ndarray:
    """(T, M) dB -> (M, T) uint8 levels 0..255 (low frequencies at the bottom): indices into COLOURS."""
    low, high = db_range
    level = np.clip((db - low) / (high - low), 0.0, 1.0)
    return np.ascontiguousarray(np.round(level * (len(COLOURS) - 1)).astype(np.uint8).T[::-1])


def spectrogram_image(signal: np.ndarray, sample_rate: int, size: tuple[int, int]) -> Image.Image:
    """A log-mel picture of a mono signal, `size` = (width, height) px: levels are resized (so
    in-between pixels are in-between levels), then coloured through a palette."""
    width, height = size
    n_fft = fft_size(sample_rate)
    hop = max(1, min(n_fft, len(signal) // max(1, width)))  # one frame per column (frames overlap or touch)
    db = log_mel(signal, sample_rate, n_mels=min(CARD_MELS, height), hop=hop, n_fft=n_fft)
    picture = Image.fromarray(to_levels(db), mode="L").resize((width, height), Image.Resampling.BILINEAR)
    picture = picture.convert("P")
    picture.putpalette(COLOURS.tobytes())
    return picture


def card_png(signal: np.ndarray, sample_rate: int, size: tuple[int, int] = CARD_SIZE) -> bytes:
    """The card of one window: its log-mel spectrogram as PNG bytes."""
    return png_bytes(spectrogram_image(signal, sample_rate, size))


def bracket(picture: Image.Image, left: int, right: int) -> Image.Image:
    """The picture (RGB) with faint brackets [ ] around columns left..right: where a window lies in its context."""
    out = picture.convert("RGBA")
    overlay = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    bottom = out.height - 1
    right = max(left + 1, right - 1)
    for x, inward in ((left, 1), (right, -1)):
        draw.line((x, 0, x, bottom), fill=MARK_RGBA, width=2)
        for y in (1, bottom - 1):
            draw.line((x, y, x + inward * MARK_TICK_PX, y), fill=MARK_RGBA, width=2)
    return Image.alpha_composite(out, overlay).convert("RGB")


def wide_png(signal: np.ndarray, sample_rate: int, height: int = WIDE_HEIGHT,
             px_per_second: int = WIDE_PX_PER_SECOND, mark: tuple[float, float] | None = None) -> bytes:
    """The closer look: a window with its context, `px_per_second` wide, as PNG bytes; `mark` (start, end
    seconds from the signal's start) is bracketed: the window itself among its neighbours."""
    width = max(1, int(round(len(signal) / sample_rate * px_per_second)))
    picture = spectrogram_image(signal, sample_rate, (width, height))
    if mark is not None:
        scale = width * sample_rate / len(signal)  # px per second as drawn
        picture = bracket(picture, int(round(mark[0] * scale)), int(round(mark[1] * scale)))
    return png_bytes(picture)
