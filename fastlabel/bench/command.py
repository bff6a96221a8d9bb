"""What `fastlabel bench` and `fastlabel replay --against` do once their flags are parsed."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..config import Config
from ..data import read_identities
from ..errors import InvalidInput
from ..events import Event
from ..learner.goals import GOALS
from ..workspace import EmbeddedData
from .runner import BenchSpec, run_benchmark, write_bench
from .simulate import Progress
from .suite import Suite


def parse_attribute_args(values: Iterable[str] | None) -> tuple[str, ...]:
    """--attribute given several times and/or comma-separated -> names in order, without repeats."""
    names = [n.strip() for v in values or () for n in v.split(",") if n.strip()]
    if not names:
        raise InvalidInput("name at least one --attribute column to label")
    return tuple(dict.fromkeys(names))


def ground_truth(pool: EmbeddedData, attributes: Sequence[str]) -> dict[str, np.ndarray]:
    if pool.attributes is None:
        raise InvalidInput("benchmarks answer from ground truth: pass --attributes CSV")
    return {name: pool.attributes.column(name).astype(np.int64) for name in attributes}


def identities_of(pool: EmbeddedData, path: Path | None) -> np.ndarray | None:
    return read_identities(path, pool.embeddings.shape[0]) if path else None


def bench(pool: EmbeddedData, spec: BenchSpec, identities: Path | None, out: Path, *, plots: bool = True,
          progress: Progress | None = None) -> str:
    """Run the benchmark on an opened pool and write its files under `out`; returns summary.md."""
    columns = ground_truth(pool, spec.attributes)
    people = identities_of(pool, identities)
    text = pool.encoder if pool.encoder.has_text else None
    result = run_benchmark(pool.embeddings, columns, people, spec, text_encoder=text, progress=progress)
    split = (f"{spec.test_fraction:.0%} of identities held out" if people is not None
             else f"{spec.test_fraction:.0%} of items held out at random")
    meta = {"data": pool.source.name if hasattr(pool.source, "name") else type(pool.source).__name__,
            "n_items": int(pool.embeddings.shape[0]), "encoder": pool.encoder.id, "split": split}
    return write_bench(result, spec, out, meta, plots=plots)


def against(events: Sequence[Event], pool: EmbeddedData, attributes: Sequence[str], strategies: Sequence[str],
            identities: Path | None, seeds: int, test_fraction: float) -> str:
    """One comparison table per attribute for a recorded session."""
    from .against import compare_with_recording

    columns = ground_truth(pool, attributes)
    people = identities_of(pool, identities)
    return "\n\n".join(
        f"## {name}\n\n" + compare_with_recording(events, pool.embeddings, columns[name], name, strategies,
                                                  identities=people, seeds=seeds, test_fraction=test_fraction)
        for name in attributes)


def bench_suite(base: Config, suite: Suite, parts: Sequence[str], data_root: Path, out: Path, default: str, *,
                plots: bool = True, progress: Progress | None = None, from_saved: bool = False) -> str:
    """Run (or, `from_saved`, reload) each part of a suite into out/PART/ and write its summary.md."""
    from .suite_report import suite_markdown
    from .suite_run import load_result, load_results, open_suite_data, run_part

    texts = []
    data = {} if from_saved else {name: open_suite_data(name, base, data_root) for name in suite.data_sets}
    for part in parts:
        folder = out / part
        if from_saved:  # out/PART, or else the parts of separate runs under out/*/PART
            result = load_result(suite, folder) if (folder / "facts.json").exists() else \
                load_results(suite, sorted(f for f in out.glob(f"*/{part}") if (f / "facts.json").exists()))
        else:
            result = run_part(suite, part, data, progress, out=folder)
        meta: dict = {}
        if plots:
            from .suite_plots import write_suite_plots

            meta["plots"] = [p.name for p in write_suite_plots(result, default, folder)]
        text = suite_markdown(result, default, meta, find_default=GOALS["find"].strategy)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "summary.md").write_text(text)
        texts.append(text)
    return "\n\n".join(texts)
