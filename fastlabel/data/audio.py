"""A folder of recordings as a data source: every file cut into fixed windows, each window an item.

An item is (file, window k): the file keeps its stable id in the folder's item registry (registry.py:
new, changed, removed and returning files are handled as for images), and each (file id, k) gets an
item id of its own in order of first sight, kept in a second small JSON file beside it, so ids never
shift as recordings come and go. Window k covers [k * hop, k * hop + window) seconds; a short last
window is padded with silence, and a file shorter than one window is one padded window. A window
beyond the end of a file that was cut short leaves the pool (`available()` false), its id and labels
kept. Files that libsndfile cannot read, or whose data ends before their header says (a truncated
copy), are skipped and listed with their reason, as is every file of another type.

Audio is read when asked, never a whole recording at once: one window (and margins for the
resampling filter) per read, or a block of the windows that follow when reads come in order, as
they do when embedding. Channels are averaged to mono and any rate is resampled to `sample_rate`
with a polyphase filter; a window's samples are the same however it was read (alone, in a block,
or from an in-memory array with `window_array`).
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import struct
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile
from scipy.signal import firwin, resample_poly

from fastlabel.data.folder import log_skipped, scan_folder
from fastlabel.data.registry import Changes, ItemRecord, ItemRegistry, read_registry, registry_file
from fastlabel.data.base import check_item_id
from fastlabel.data.picture_cache import PictureCache
from fastlabel.data.spectrogram import CARD_SIZE, card_png, wide_png
from fastlabel.errors import DataError, InvalidInput
from fastlabel.files import write_atomic

log = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3"})
DEFAULT_WINDOW_S = 3.0
DEFAULT_SAMPLE_RATE = 48_000
MAX_WINDOW_S = 600.0
MAX_CONTEXT = 4  # windows of context either side a caller may ask for
FILTER_MARGIN = 64  # input samples read beyond a window on each side, so the resampling filter sees real audio
READ_AHEAD_S = 60.0  # seconds read at once when windows of a file are asked in order
CARD_CACHE_SIZE = 4096
WIDE_CACHE_SIZE = 64
WINDOWS_VERSION = 1


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says."""

    sample_rate: int
    channels: int
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def wav_data_shortfall(path: Path) -> int | None:
    """For a RIFF/WAVE file, how many bytes of its data chunk are missing (0: complete); None when the
    file is not a plain WAV or its header leaves the size open (streamed files write 0 or 0xFFFFFFFF)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            offset = 12
            while offset + 8 <= size:
                handle.seek(offset)
                chunk_id, chunk_size = struct.unpack("<4sI", handle.read(8))
                if chunk_id == b"data":
                    if chunk_size in (0, 0xFFFFFFFF):
                        return None
                    return max(0, offset + 8 + chunk_size - size)
                offset += 8 + chunk_size + (chunk_size & 1)
    except (OSError, struct.error):
        return None
    return None


def read_info(path: Path) -> AudioInfo:
    """The file's rate, channels and length; DataError when libsndfile cannot open it or it is empty."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as exc:
        raise DataError(f"not a readable recording ({exc})") from None
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise DataError("holds no audio")
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames))


def audio_problem(path: Path) -> str | None:
    """Why a recording cannot be served, or None: unreadable, empty, or cut short (its last second
    does not decode, or a WAV's data chunk is shorter than its header says)."""
    try:
        info = read_info(path)
    except DataError as exc:
        return str(exc)
    missing = wav_data_shortfall(path)
    if missing:
        return f"truncated: the header promises {missing} more bytes of audio than the file holds"
    tail = min(info.frames, info.sample_rate)
    try:
        with soundfile.SoundFile(str(path)) as handle:
            handle.seek(info.frames - tail)
            got = len(handle.read(tail, dtype="float32", always_2d=True))
    except (RuntimeError, soundfile.LibsndfileError, OSError) as exc:
        return f"truncated or damaged: its end does not decode ({exc})"
    if got < tail:
        return f"truncated: the audio ends {(tail - got) / info.sample_rate:.2f} s before its header says"
    return None


@lru_cache(maxsize=64)
def rate_ratio(rate_in: int, rate_out: int) -> tuple[int, int]:
    """(up, down) with rate_out / rate_in = up / down in lowest terms."""
    g = math.gcd(rate_in, rate_out)
    return rate_out // g, rate_in // g


@lru_cache(maxsize=64)
def resampling_filter(up: int, down: int) -> np.ndarray:
    """The low-pass filter `resample_poly` designs by default for up / down (a Kaiser window, beta 5),
    designed once per ratio instead of on every cut."""
    rate = max(up, down)
    taps = firwin(20 * rate + 1, 1.0 / rate, window=("kaiser", 5.0)).astype(np.float32)
    taps.flags.writeable = False
    return taps


def margin_frames(rate_in: int, rate_out: int) -> int:
    """Input frames of context on each side of a cut: at least FILTER_MARGIN, a whole number of
    `down` steps so the output grid stays on the window's start. 0 when no resampling is needed."""
    if rate_in == rate_out:
        return 0
    _, down = rate_ratio(rate_in, rate_out)
    return down * math.ceil(FILTER_MARGIN / down)


def span_frames(start: int, n_out: int, rate_in: int, rate_out: int) -> tuple[int, int]:
    """The input frames [first, stop) a cut of n_out output samples from input frame `start` reads."""
    up, down = rate_ratio(rate_in, rate_out)
    margin = margin_frames(rate_in, rate_out)
    return start - margin, start + math.ceil(n_out * down / up) + margin + 1


def cut(block: np.ndarray, block_start: int, start: int, n_out: int, rate_in: int, rate_out: int) -> np.ndarray:
    """n_out samples at rate_out from input frame `start`, taken from a mono block that begins at input
    frame `block_start` (frames outside the block are silence). The same samples whatever the block."""
    first, stop = span_frames(start, n_out, rate_in, rate_out)
    piece = np.zeros(stop - first, dtype=np.float32)
    lo, hi = max(first, block_start), min(stop, block_start + len(block))
    if hi > lo:
        piece[lo - first:hi - first] = block[lo - block_start:hi - block_start]
    if rate_in == rate_out:
        return piece[:n_out]
    up, down = rate_ratio(rate_in, rate_out)
    skip = margin_frames(rate_in, rate_out) * up // down
    return resample_poly(piece, up, down, window=resampling_filter(up, down)).astype(np.float32)[skip:skip + n_out]


@dataclass(frozen=True)
class Windowing:
    """How recordings are cut: `window_s` long windows every `hop_s` seconds, heard at `sample_rate`."""

    window_s: float = DEFAULT_WINDOW_S
    hop_s: float = DEFAULT_WINDOW_S
    sample_rate: int = DEFAULT_SAMPLE_RATE

    def __post_init__(self) -> None:
        for name, value in (("window", self.window_s), ("hop", self.hop_s)):
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.01 <= value <= MAX_WINDOW_S:
                raise InvalidInput(f"the {name} must be 0.01 to {MAX_WINDOW_S:g} seconds, got {value!r}")
        if isinstance(self.sample_rate, bool) or not isinstance(self.sample_rate, (int, np.integer)) \
                or not 1000 <= self.sample_rate <= 384_000:
            raise InvalidInput(f"the sample rate must be 1000 to 384000 Hz, got {self.sample_rate!r}")

    @property
    def samples(self) -> int:
        """Samples in one window at `sample_rate`."""
        return max(1, int(round(self.window_s * self.sample_rate)))

    def frames(self, rate: int) -> tuple[int, int]:
        """(window, hop) in frames of a file at `rate`."""
        return max(1, int(round(self.window_s * rate))), max(1, int(round(self.hop_s * rate)))

    def count(self, frames: int, rate: int) -> int:
        """Windows in a recording of `frames` at `rate`: enough to cover it, at least one."""
        window, hop = self.frames(rate)
        return 1 + math.ceil(max(0, frames - window) / hop)

    def tag(self) -> str:
        return f"w{self.window_s:g}-h{self.hop_s:g}"


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) float32, channels averaged."""
    samples = np.asarray(samples, dtype=np.float32)
    return samples if samples.ndim == 1 else samples.mean(axis=1, dtype=np.float32)


def window_array(signal: np.ndarray, rate: int, windowing: Windowing) -> np.ndarray:
    """(n_windows, samples) float32: an in-memory recording ((N,) or (N, C) at `rate`) cut as a folder's
    files are, equal sample for sample to the windows AudioFolder serves for the same audio."""
    mono = to_mono(signal)
    if mono.size == 0:
        raise InvalidInput("the recording holds no samples")
    count = windowing.count(len(mono), rate)
    _, hop = windowing.frames(rate)
    return np.stack([cut(mono, 0, k * hop, windowing.samples, rate, windowing.sample_rate) for k in range(count)])


def pcm16_wav(signal: np.ndarray, rate: int) -> bytes:
    """A mono float signal as 16-bit PCM WAV bytes (clipped to full scale)."""
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(signal, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class WindowRegistry:
    """(file id, window k) -> item id, handed out in order of first sight and kept as JSON beside the
    folder's file registry; also remembers each file's header by content hash, so a restart opens no
    unchanged file."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self.items: list[tuple[int, int]] = []
        self.index: dict[tuple[int, int], int] = {}
        self.headers: dict[str, AudioInfo] = {}  # content hash -> header
        if file is not None and file.is_file():
            self._read(file)

    def _read(self, file: Path) -> None:
        items, headers = read_registry(file, WINDOWS_VERSION, "window registry", lambda raw: (
            [(int(f), int(k)) for f, k in raw["items"]],
            {str(h): AudioInfo(*map(int, v)) for h, v in raw["headers"].items()}))
        self.items = items
        self.index = {pair: i for i, pair in enumerate(items)}
        self.headers = headers

    def add(self, file_id: int, count: int) -> None:
        """Give ids to windows 0..count-1 of a file that have none yet."""
        for k in range(count):
            if (file_id, k) not in self.index:
                self.index[(file_id, k)] = len(self.items)
                self.items.append((file_id, k))

    def save(self) -> None:
        if self.file is None:
            return
        body = {"version": WINDOWS_VERSION, "items": self.items,
                "headers": {h: [i.sample_rate, i.channels, i.frames] for h, i in self.headers.items()}}
        write_atomic(self.file, json.dumps(body, separators=(",", ":")).encode())


class AudioFolder:
    """Every window of every recording under a folder. `len()` is the id space (windows ever given ids);
    `available()` says which are served now.

    `window_s` / `hop_s`: window length and step in seconds (hop defaults to the window); `sample_rate`:
    the rate windows are served at (the encoder's); `home_dir`: where the registries are kept
    (`home_dir/folders`, beside the image folders'); None keeps ids for this run only."""

    media = "audio"

    def __init__(self, root: str | os.PathLike[str], window_s: float = DEFAULT_WINDOW_S, hop_s: float | None = None,
                 sample_rate: int = DEFAULT_SAMPLE_RATE, home_dir: str | os.PathLike[str] | None = None,
                 card_size: tuple[int, int] = CARD_SIZE) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"audio folder {self.root} does not exist or is not a folder")
        self.windowing = Windowing(float(window_s), float(hop_s if hop_s is not None else window_s), int(sample_rate))
        self.card_size = card_size
        others: list[str] = []
        found, self.broken = scan_folder(self.root, AUDIO_EXTENSIONS, others=others)
        self.others = [(path, "not a WAV, FLAC, OGG or MP3 recording") for path in others]
        folders = Path(home_dir) / "folders" if home_dir is not None else None
        file = registry_file(folders, self.root, kind="audio") if folders is not None else None
        self.registry = ItemRegistry(file, self.root)
        self.changes: Changes = self.registry.reconcile(found, audio_problem)
        windows_file = file.with_name(f"{file.stem}-{self.windowing.tag()}.json") if file is not None else None
        self.window_ids = WindowRegistry(windows_file)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._headers: dict[int, AudioInfo] = {}
        self._available: np.ndarray | None = None
        self._refresh()
        self._save()
        if not self._available.any():  # type: ignore[union-attr]
            if found or self.broken:
                lines = "; ".join(f"{p} ({why})" for p, why in self.skipped)
                raise DataError(f"none of the {len(found) + len(self.broken)} recordings under {self.root} "
                                f"could be read: {lines}")
            raise DataError(f"no recordings (WAV, FLAC, OGG, MP3) found under {self.root}")
        self._cards = PictureCache(self._draw_card, CARD_CACHE_SIZE, name="fastlabel-cards")
        self._wide = lru_cache(maxsize=WIDE_CACHE_SIZE)(self._draw_wide)
        self.report()

    # -- what is served, and what is not --------------------------------------------------------
    def _header(self, record: ItemRecord) -> AudioInfo | None:
        """The header of a present, usable file (from the window registry when its content is known)."""
        info = self.window_ids.headers.get(record.sha256)
        if info is None:
            try:
                info = read_info(self.root / record.path)
            except DataError as exc:
                record.problem = str(exc)
                return None
            self.window_ids.headers[record.sha256] = info
        return info

    def _refresh(self) -> None:
        """Give new windows ids, then recompute the served mask and the skipped list."""
        counts: dict[int, int] = {}
        for record in self.registry.by_id:
            if record.present and record.problem is None:
                info = self._header(record)
                if info is not None:
                    self._headers[record.id] = info
                    counts[record.id] = self.windowing.count(info.frames, info.sample_rate)
                    self.window_ids.add(record.id, counts[record.id])
        mask = np.array([k < counts.get(f, 0) for f, k in self.window_ids.items], dtype=bool)
        if self._available is None or len(self._available) != len(mask):
            self._available = mask
        else:  # in place: whoever holds the mask (a session's pool) sees the change
            self._available[:] = mask
        problems = [(r.path, r.problem) for r in self.registry.by_id if r.present and r.problem is not None]
        self.skipped: list[tuple[str, str]] = sorted(problems + self.broken + self.others)  # type: ignore[operator]

    def _save(self) -> None:
        try:
            self.registry.save()
            self.window_ids.save()
        except OSError as exc:  # a read-only home: this start works, the next one re-reads the folder
            log.warning("could not save the registries of %s (%s)", self.root, exc)

    def available(self) -> np.ndarray:
        """Bool mask over item ids: windows of present, readable files that still reach that far.
        A live view: a file found unreadable later is cleared in this same array."""
        return self._available  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return f"{self.root.name or self.root}/ ({int(self._available.sum())} windows)"  # type: ignore[union-attr]

    @property
    def window_s(self) -> float:
        return self.windowing.window_s

    @property
    def hop_s(self) -> float:
        return self.windowing.hop_s

    @property
    def sample_rate(self) -> int:
        return self.windowing.sample_rate

    def report(self) -> None:
        """Log what changed since the last start and every file left out, with its reason."""
        served = int(self._available.sum())  # type: ignore[union-attr]
        files = sum(1 for r in self.registry.by_id if r.present and r.problem is None)
        if len(self.registry) == len(self.changes.new):
            log.info("%s: %d recordings found, %d windows of %g s served", self.root, files, served, self.window_s)
        else:
            log.info("%s: %s since the last start; %d windows served", self.root, self.changes.summary(), served)
        log_skipped(self.skipped, f"file(s) under {self.root}")

    def mark_unreadable(self, item_id: int, reason: str) -> None:
        """A read failed after the check: stop serving the window's file (until it changes) and list it."""
        with self._lock:
            record = self.file_record(item_id)
            if record.problem is not None:
                return
            record.problem = reason
            log.warning("skipping %s: %s", record.path, reason)
            self._refresh()
            self._save()

    # -- items ------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.window_ids.items)

    def fingerprint(self) -> str:
        """The folder's identity and its windowing (not its content): ids keep their meaning as files change."""
        return f"audio:{self.registry.folder_id}:{self.windowing.tag()}"

    def item(self, item_id: int) -> tuple[int, int]:
        """(file id, window index) of an item."""
        return self.window_ids.items[check_item_id(item_id, len(self.window_ids.items))]

    def file_record(self, item_id: int) -> ItemRecord:
        return self.registry.by_id[self.item(item_id)[0]]

    def content_hash(self, item_id: int) -> str:
        """The window's content identity: its file's hash and its place in it."""
        file_id, k = self.item(item_id)
        return f"{self.registry.by_id[file_id].sha256}@{k}"

    def describe(self, item_id: int) -> dict[str, object]:
        """{"name": file path relative to the folder, "start_s", "end_s"} (end clipped to the file's end)."""
        file_id, k = self.item(item_id)
        record = self.registry.by_id[file_id]
        start = k * self.hop_s
        end = start + self.window_s
        info = self._headers.get(file_id)
        if info is not None:
            end = min(end, max(start, info.seconds))
        return {"name": record.path, "start_s": round(start, 3), "end_s": round(end, 3)}

    # -- reading ----------------------------------------------------------------------------------
    def _source(self, item_id: int) -> tuple[ItemRecord, AudioInfo]:
        record = self.file_record(item_id)
        info = self._headers.get(record.id)
        if not record.present:
            raise DataError(f"{record.path} is no longer in the folder")
        if record.problem is not None or info is None:
            raise DataError(f"{record.path} cannot be read: {record.problem}")
        return record, info

    def _read(self, record: ItemRecord, info: AudioInfo, first: int, stop: int) -> tuple[np.ndarray, int]:
        """Mono frames [first, stop) of a file clipped to it, and the frame they start at."""
        lo, hi = max(0, first), min(info.frames, stop)
        if hi <= lo:
            return np.zeros(0, dtype=np.float32), lo
        try:
            with soundfile.SoundFile(str(self.root / record.path)) as handle:
                handle.seek(lo)
                samples = handle.read(hi - lo, dtype="float32", always_2d=True)
        except (RuntimeError, soundfile.LibsndfileError, OSError) as exc:
            raise DataError(f"{record.path} cannot be read at {lo / info.sample_rate:.1f} s ({exc})") from None
        return to_mono(samples), lo

    def _block(self, record: ItemRecord, info: AudioInfo, first: int, stop: int) -> tuple[np.ndarray, int]:
        """Frames covering [first, stop): from this thread's last block when it holds them; a read of
        READ_AHEAD_S from `first` when the reads go on through one file where the last block ends (as
        embedding reads); else just these frames (a page's cards: scattered windows)."""
        last = getattr(self._local, "block", None)
        if last is not None and last[0] == (record.id, record.sha256):
            block, start = last[1], last[2]
            if start <= max(0, first) and min(stop, info.frames) <= start + len(block):
                return block, start
            sequential = start <= first <= start + len(block)
        else:
            sequential = False
        ahead = max(stop, first + int(READ_AHEAD_S * info.sample_rate)) if sequential else stop
        block, start = self._read(record, info, first, ahead)
        self._local.block = ((record.id, record.sha256), block, start)
        return block, start

    def _span(self, item_id: int, context: int) -> tuple[int, int, AudioInfo]:
        """(start frame, output samples, header) of a window with `context` windows either side."""
        if isinstance(context, bool) or not isinstance(context, int) or not 0 <= context <= MAX_CONTEXT:
            raise InvalidInput(f"context must be 0 to {MAX_CONTEXT} windows, got {context!r}")
        record, info = self._source(item_id)
        _, k = self.item(item_id)
        window, hop = self.windowing.frames(info.sample_rate)
        start = k * hop
        if context == 0:
            return start, self.windowing.samples, info
        first = max(0, start - context * window)
        stop = max(start + window, min(info.frames, start + (1 + context) * window))
        return first, int(round((stop - first) * self.sample_rate / info.sample_rate)), info

    def window(self, item_id: int, context: int = 0) -> np.ndarray:
        """The window as float32 mono samples at `sample_rate` (padded with silence past the file's end);
        with `context`, that many windows more on each side, clipped at the file's ends."""
        first, n_out, info = self._span(item_id, context)
        record = self.file_record(item_id)
        lo, hi = span_frames(first, n_out, info.sample_rate, self.sample_rate)
        try:
            block, start = self._block(record, info, lo, hi)
        except DataError as exc:
            self.mark_unreadable(item_id, str(exc))
            raise
        return cut(block, start, first, n_out, info.sample_rate, self.sample_rate)

    def context_span(self, item_id: int, context: int = 0) -> tuple[float, float]:
        """(start_s, end_s) in the file of what `window(item_id, context)` returns."""
        first, n_out, info = self._span(item_id, context)
        start = first / info.sample_rate
        return round(start, 3), round(start + n_out / self.sample_rate, 3)

    def windows(self, ids: Sequence[int]) -> np.ndarray:
        """(len(ids), samples) float32 windows; reads in file order, so a file is read front to back once."""
        ids = [check_item_id(i, len(self)) for i in ids]
        out = np.empty((len(ids), self.windowing.samples), dtype=np.float32)
        for position in sorted(range(len(ids)), key=lambda p: self.item(ids[p])):
            out[position] = self.window(ids[position])
        return out

    def wav_bytes(self, item_id: int, context: int = 0) -> bytes:
        """The window (with `context` windows either side) as 16-bit PCM mono WAV at `sample_rate`."""
        return pcm16_wav(self.window(item_id, context), self.sample_rate)

    # -- pictures ---------------------------------------------------------------------------------
    def _draw_card(self, index: int) -> bytes:
        try:
            signal = self.window(index)
        except DataError:
            signal = np.zeros(self.windowing.samples, dtype=np.float32)  # listed as skipped by window()
        return card_png(signal, self.sample_rate, self.card_size)

    def thumbnail(self, item_id: int) -> bytes:
        """The card: the window's log-mel spectrogram as PNG (drawn on first ask, then cached)."""
        return self._cards.get(check_item_id(item_id, len(self)))

    def warm_cards(self, item_ids: Sequence[int]) -> None:
        """Start drawing these cards on worker threads (a page about to be shown); returns at once."""
        self._cards.warm(check_item_id(i, len(self)) for i in item_ids)

    def _draw_wide(self, index: int, context: int) -> bytes:
        signal = self.window(index, context)
        first, _, info = self._span(index, context)
        start = self._span(index, 0)[0]  # the window itself, bracketed up to the file's end
        end = min(start + self.windowing.frames(info.sample_rate)[0], info.frames)
        mark = ((start - first) / info.sample_rate, (end - first) / info.sample_rate)
        return wide_png(signal, self.sample_rate, mark=mark if context else None)

    def closer_look(self, item_id: int, context: int = 1) -> bytes:
        """A wide spectrogram PNG of the window with `context` windows either side, the window itself
        bracketed (`context_span` gives the times it covers, for a play cursor)."""
        self._span(item_id, context)  # checks the context and that the file is served
        return self._wide(check_item_id(item_id, len(self)), context)
