"""The ImageNet encoder's forward pass in ONNX Runtime on CPU (extra `[onnx]`).

The torch model is exported to ONNX once per input size (dynamic batch axis) into
`<cache dir>/onnx/`, with a copy in a cache shared by every home on the machine (`shared_graph_dir`:
$FASTLABEL_GRAPH_CACHE, else ~/.cache/fastlabel/onnx), so a new home starts from that copy instead of
paying the export (4 s of a 1,000-image embed on 2 cores) again. The graph is then run in an onnxruntime CPU session with full graph optimisation:
about 4x torch's eager forward on a 2-core CPU, with the same features (cosine >= 0.9999 with
torch; benchmarks/EMBEDDING.md). A fresh export is checked against torch before it is kept.
Without onnxruntime, or when the export or the session fails, the encoder keeps its torch
forward; that is logged once per process, never raised.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fastlabel.files import write_atomic

log = logging.getLogger(__name__)

OPSET = 17
MIN_COSINE = 0.9999
"""A fresh export is kept only when its features agree with torch's this closely on every check image."""
CHECK_IMAGES = 2
_logged: set[str] = set()


def _log_once(message: str, *args: Any) -> None:
    text = message % args
    if text not in _logged:
        _logged.add(text)
        log.info(text)


def _import_onnxruntime() -> Any:
    import onnxruntime

    return onnxruntime


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def graph_path(cache_dir: str | Path, model_id: str, input_size: int, weights_package: str | None = None) -> Path:
    """Where the exported graph of `model_id` at `input_size` px lives. The name also carries a short
    digest of what the graph depends on (opset, timm and the weights package's versions), so an
    upgrade exports afresh instead of reusing a graph of other weights."""
    versions = f"opset{OPSET}|timm {_version('timm')}|{weights_package} {_version(weights_package or '')}"
    stamp = hashlib.sha256(versions.encode()).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", model_id)
    return Path(cache_dir) / "onnx" / f"{name}-{input_size}px-{stamp}.onnx"


def shared_graph_dir() -> Path | None:
    """The machine-wide folder of exported graphs: $FASTLABEL_GRAPH_CACHE (empty: none), else
    $XDG_CACHE_HOME/fastlabel/onnx or ~/.cache/fastlabel/onnx. A graph depends on the model, the input
    size and the versions in its name, never on the data, so every home can share it."""
    raw = os.environ.get("FASTLABEL_GRAPH_CACHE")
    if raw is not None:
        return Path(raw).expanduser() if raw.strip() else None
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "fastlabel" / "onnx"


def copy_shared_graph(path: Path) -> bool:
    """Put the shared copy of the graph at `path` when there is one; whether it did."""
    shared = shared_graph_dir()
    if shared is None or not (shared / path.name).is_file():
        return False
    try:
        write_atomic(path, (shared / path.name).read_bytes())
    except OSError as exc:
        log.debug("could not copy the shared graph %s (%s)", shared / path.name, exc)
        return False
    return True


def share_graph(path: Path, graph: bytes) -> None:
    """Keep a copy of a fresh export for other homes (best effort: a read-only home directory is fine)."""
    shared = shared_graph_dir()
    if shared is None:
        return
    try:
        write_atomic(shared / path.name, graph)
    except OSError as exc:
        log.debug("could not share the graph in %s (%s)", shared, exc)


def export_graph(model: torch.nn.Module, input_size: int) -> bytes:
    """`model` (pixels (B, 3, S, S) -> features (B, D), eval mode) as ONNX bytes with a dynamic batch axis."""
    dummy = torch.zeros(CHECK_IMAGES, 3, input_size, input_size)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes; the check after export is the test
        torch.onnx.export(model, (dummy,), buffer, dynamo=False, input_names=["pixels"], output_names=["features"],
                          dynamic_axes={"pixels": {0: "batch"}, "features": {0: "batch"}}, opset_version=OPSET)
    return buffer.getvalue()


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest row-wise cosine similarity of two (N, D) arrays."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return float(np.min(np.sum(a * b, axis=1)))


class OnnxFeatures:
    """A callable like the torch forward, (B, 3, S, S) float tensor -> (B, D) tensor, run in onnxruntime."""

    def __init__(self, session: Any, path: Path) -> None:
        self.session = session
        self.path = path
        self.input = session.get_inputs()[0].name
        self.output = session.get_outputs()[0].name

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        pixels = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        return torch.from_numpy(self.session.run([self.output], {self.input: pixels})[0])


def _session(ort: Any, graph: str | bytes, threads: int) -> Any:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def onnx_features(
    cache_dir: str | Path,
    model_id: str,
    input_size: int,
    build: Callable[[], torch.nn.Module],
    *,
    weights_package: str | None = None,
    threads: int | None = None,
) -> OnnxFeatures | None:
    """An onnxruntime forward for the model `build` returns (pixels -> features, eval mode, called only
    when the graph must be exported), from the cached graph when there is one; None (logged once) when
    onnxruntime is missing or the graph cannot be made or run, so the caller keeps its torch forward.
    `threads`: intra-op threads, by default one per core. Not torch's count: importing faiss sets the
    process's OpenMP threads to 1, which torch then reports, and the forward ran on one core."""
    try:
        ort = _import_onnxruntime()
    except ImportError as exc:
        _log_once("onnxruntime is not installed (%s), so %s runs in torch; pip install 'fastlabel[onnx]' "
                  "for a ~4x faster forward pass on CPU.", exc, model_id)
        return None
    threads = threads or os.cpu_count() or 1
    path = graph_path(cache_dir, model_id, input_size, weights_package)
    if path.is_file() or copy_shared_graph(path):
        try:
            return OnnxFeatures(_session(ort, str(path), threads), path)
        except Exception as exc:  # a damaged file: export it again below
            log.warning("Ignoring the cached ONNX graph %s (%s); exporting it again.", path, exc)
    try:
        model = build().float().cpu().eval()
        graph = export_graph(model, input_size)
        runtime = OnnxFeatures(_session(ort, graph, threads), path)
        check = torch.rand(CHECK_IMAGES, 3, input_size, input_size, generator=torch.Generator().manual_seed(0)) * 2 - 1
        with torch.no_grad():
            want = model(check).numpy()
        agree = min_cosine(runtime(check).numpy(), want)
        if not agree >= MIN_COSINE:
            raise ValueError(f"its features differ from torch's (min cosine {agree:.6f} < {MIN_COSINE})")
    except Exception as exc:
        _log_once("ONNX Runtime is off for %s, which runs in torch: the ONNX export failed (%s).", model_id, exc)
        return None
    try:
        write_atomic(path, graph)
    except OSError as exc:  # a read-only home: this process still uses the graph, the next exports again
        _log_once("Could not cache the ONNX graph in %s (%s); it is exported again next start.", path.parent, exc)
    share_graph(path, graph)
    log.info("Exported %s at %d px to ONNX (%s).", model_id, input_size, path)
    return runtime
