"""Exemplar search as a cold start for rare concepts, with no text side: how many positives do
"more like this" pages find, against random pages of the same size?

For each attribute and seed: one positive is picked at random (the user's example); then pages
of `--page` are served by the `similar` strategy, first around that example, then around every
positive found so far, each page answered from the attribute column. The random row serves
uniformly random pages. No head is trained: this measures the search alone.
Run: .venv/bin/python benchmarks/exemplar.py --embeddings E.npy --attributes A.csv --out benchmarks/EXEMPLAR.md
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from fastlabel.learner.base import Pool
from fastlabel.learner.index import EmbeddingIndex
from fastlabel.learner.registry import select

ATTRIBUTES = ("Eyeglasses", "Wearing_Hat", "Gray_Hair", "Goatee", "Smiling")


def read_columns(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {n: np.array([int(r[n]) > 0 for r in rows], dtype=bool) for n in names}


def found_per_page(emb: np.ndarray, index: EmbeddingIndex, truth: np.ndarray, strategy: str, seed: int,
                   pages: int, page: int) -> list[int]:
    """Positives found (cumulative) after each page, the example included for `similar`."""
    rng = np.random.default_rng(seed)
    labeled = np.zeros(len(emb), bool)
    labels: dict[int, int] = {}
    example = int(rng.choice(np.flatnonzero(truth)))
    exemplars: tuple[int, ...] = (example,)
    if strategy == "similar":
        labeled[example], labels[example] = True, 1
    found = []
    for k in range(pages):
        pool = Pool(emb, np.full(len(emb), 0.5, np.float32), labeled.copy(), dict(labels),
                    np.random.default_rng([seed, k]), has_head=True, index=index,
                    exemplars=exemplars if k == 0 and strategy == "similar" else ())
        ids = select(strategy, pool, page).ids
        labeled[ids] = True
        labels.update({int(i): int(truth[i]) for i in ids})
        found.append(sum(labels.values()) - (1 if strategy == "similar" else 0))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", type=Path, required=True)
    parser.add_argument("--attributes", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--pages", type=int, default=5)
    parser.add_argument("--page", type=int, default=48)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    emb = np.load(args.embeddings, mmap_mode="r")
    columns = read_columns(args.attributes, ATTRIBUTES)
    index = EmbeddingIndex(emb)
    index.wait()
    lines = [f"# Exemplar search as a cold start ({args.embeddings.name}, {len(emb):,} items)", "",
             f"Positives found in the first {args.pages} pages of {args.page} (mean over {args.seeds} seeds, "
             "each from one random positive example; min-max in brackets). No head, no text side.", "",
             "| attribute | prevalence | " + " | ".join(f"similar p{k + 1} | random p{k + 1}" for k in
                                                       (0, args.pages - 1)) + " | similar / random after "
             f"{args.pages} pages |", "|---|---:|" + "---:|" * 5]
    for name, truth in columns.items():
        sim = np.array([found_per_page(emb, index, truth, "similar", s, args.pages, args.page)
                        for s in range(args.seeds)])
        rnd = np.array([found_per_page(emb, index, truth, "random", s, args.pages, args.page)
                        for s in range(args.seeds)])
        cells = []
        for k in (0, args.pages - 1):
            cells += [f"{sim[:, k].mean():.1f} [{sim[:, k].min()}-{sim[:, k].max()}]",
                      f"{rnd[:, k].mean():.1f} [{rnd[:, k].min()}-{rnd[:, k].max()}]"]
        ratio = sim[:, -1].mean() / max(rnd[:, -1].mean(), 1e-9)
        lines.append(f"| {name} | {truth.mean():.1%} | " + " | ".join(cells) + f" | {ratio:.1f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
