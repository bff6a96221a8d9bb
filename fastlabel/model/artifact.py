"""The model file: one safetensors file holding the head's weights and, in its header, the JSON metadata.

Layout (format version 1): tensors `head.net.0.weight` (H, D), `head.net.0.bias` (H,),
`head.net.2.weight` (1, H), `head.net.2.bias` (1,) and, when a text query was blended in,
`prior.text` (D,). The header's `__metadata__` holds two strings: `fastlabel` (the metadata as
JSON) and `fastlabel_sha256` (a digest over that JSON and every tensor's name, dtype, shape and
bytes), so a damaged or edited file is refused rather than silently giving other predictions.

Reading parses the header itself and hands the bytes to safetensors' numpy loader: nothing is
ever unpickled or executed, and a pickle (e.g. a torch .pt file) is named as such and refused.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ..errors import BadModelFile
from ..files import write_atomic

FORMAT = "fastlabel-model"
FORMAT_VERSION = 1
SUFFIX = ".safetensors"
META_KEY, DIGEST_KEY = "fastlabel", "fastlabel_sha256"
HEAD_KEYS = ("head.net.0.weight", "head.net.0.bias", "head.net.2.weight", "head.net.2.bias")
PRIOR_KEY = "prior.text"
MAX_HEADER_BYTES = 16 * 1024 * 1024
REQUIRED = ("format", "format_version", "concept", "encoder", "threshold", "training", "session", "created")


def digest(meta_json: str, tensors: Mapping[str, np.ndarray]) -> str:
    """sha256 over the metadata JSON and the tensors (in name order), as hex."""
    h = hashlib.sha256(meta_json.encode())
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        h.update(f"\0{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def to_bytes(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> bytes:
    """The artifact's bytes: float32 tensors plus the metadata and its digest in the header."""
    from safetensors.numpy import save

    arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    meta_json = json.dumps(metadata, sort_keys=True, allow_nan=False)
    return save(arrays, metadata={META_KEY: meta_json, DIGEST_KEY: digest(meta_json, arrays)})


def write_artifact(path: Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, Any]) -> int:
    """Write the artifact atomically; returns its size in bytes."""
    data = to_bytes(tensors, metadata)
    write_atomic(Path(path), data)
    return len(data)


def _not_safetensors(data: bytes, where: str) -> BadModelFile:
    if data[:2] == b"PK" or data[:1] == b"\x80":
        kind = "a zip archive (a torch.save checkpoint?)" if data[:2] == b"PK" else "a Python pickle"
        return BadModelFile(f"{where} is {kind}, not a FastLabel model. FastLabel never loads pickles, "
                            "because loading one can run code; export the model with `fastlabel export-model`.")
    return BadModelFile(f"{where} is not a FastLabel model (no safetensors header); "
                        "export one with `fastlabel export-model` or the page's Export model button.")


def parse_header(data: bytes, where: str) -> dict[str, Any]:
    """The safetensors JSON header, checked for the shape of one; BadModelFile otherwise."""
    if len(data) < 8:
        raise BadModelFile(f"{where} is empty or truncated ({len(data)} bytes); export the model again.")
    (size,) = struct.unpack("<Q", data[:8])
    if size > MAX_HEADER_BYTES or data[8:9] != b"{":
        raise _not_safetensors(data, where)
    if 8 + size > len(data):
        raise BadModelFile(f"{where} is truncated: its header alone needs {8 + size} bytes, the file has "
                           f"{len(data)}; copy or export it again.")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadModelFile(f"{where} has a damaged header ({exc}); export the model again.") from None
    if not isinstance(header, dict):
        raise _not_safetensors(data, where)
    return header


def read_artifact(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(tensors, metadata) of a model file, verified against its digest; BadModelFile says what is wrong."""
    path = Path(path)
    where = str(path)
    if path.is_dir():
        raise BadModelFile(f"{where} is a folder; give the model file ({SUFFIX}) exported by FastLabel.")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadModelFile(f"model file {where} does not exist") from None
    except OSError as exc:
        raise BadModelFile(f"cannot read model file {where}: {exc}") from None
    header = parse_header(data, where)
    stored = header.get("__metadata__") or {}
    if not isinstance(stored, dict) or META_KEY not in stored:
        raise BadModelFile(f"{where} is a safetensors file but not a FastLabel model (no '{META_KEY}' metadata).")
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError) as exc:
        raise BadModelFile(f"{where} is damaged or truncated ({exc}); copy or export it again.") from None
    if digest(stored[META_KEY], tensors) != stored.get(DIGEST_KEY):
        raise BadModelFile(f"{where} does not match its checksum: it was edited or damaged after export. "
                           "Export the model again.")
    try:
        metadata = json.loads(stored[META_KEY])
    except ValueError as exc:
        raise BadModelFile(f"{where} has unreadable metadata ({exc}).") from None
    check_metadata(metadata, tensors, where)
    return tensors, metadata


def check_metadata(meta: Any, tensors: Mapping[str, np.ndarray], where: str) -> None:
    """The metadata has what a Classifier needs and agrees with the tensors' shapes."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise BadModelFile(f"{where} is not a FastLabel model (format {meta.get('format') if isinstance(meta, dict) else None!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BadModelFile(f"{where} uses model format {version!r}; this FastLabel reads up to {FORMAT_VERSION}. "
                           "Upgrade FastLabel to load it.")
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise BadModelFile(f"{where} metadata lacks {', '.join(missing)}")
    absent = [k for k in HEAD_KEYS if k not in tensors]
    if absent:
        raise BadModelFile(f"{where} lacks the head weights {', '.join(absent)}")
    dim = meta["encoder"].get("embedding_dim") if isinstance(meta["encoder"], dict) else None
    w0, b0, w2, b2 = (tensors[k] for k in HEAD_KEYS)
    hidden = w0.shape[0] if w0.ndim == 2 else -1
    if w0.ndim != 2 or b0.shape != (hidden,) or w2.shape != (1, hidden) or b2.shape != (1,):
        raise BadModelFile(f"{where} has head weights of inconsistent shapes "
                           f"{[tuple(t.shape) for t in (w0, b0, w2, b2)]}")
    if dim != w0.shape[1]:
        raise BadModelFile(f"{where}: the head takes {w0.shape[1]}-d embeddings but the metadata says the encoder "
                           f"gives {dim}-d; the file is inconsistent, export it again.")
    if meta.get("prior") is not None and tensors.get(PRIOR_KEY, np.empty(0)).shape != (dim,):
        raise BadModelFile(f"{where}: the text prior is missing or not {dim}-d")
