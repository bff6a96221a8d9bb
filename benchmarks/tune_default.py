"""Choose the default strategy's settings on the suite's tuning part only.

Runs the `full` suite's tuned tasks on its tuning seeds with random and variants of
hunt_refine (registered for this process only; `hunt_refine` itself is margin 0, max_hunt 0.75,
10 candidates per refine card), writes the part's files under --out, and prints
one line per variant: geometric-mean ratio to random of the human seconds to 95% of the
full-data AUC (balanced and rare tasks) and to 80% of the positives (rare tasks, random in
expectation). The report part (`fastlabel bench --suite full`) never sees these seeds.

    PYTHONPATH=. python benchmarks/tune_default.py --home .fastlabel --encoder imagenet --out bench-out/tune
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from fastlabel.bench.paired import paired
from fastlabel.bench.suite import FULL
from fastlabel.bench.suite_plots import write_suite_plots
from fastlabel.bench.suite_report import EXPECTED, collect, suite_markdown
from fastlabel.bench.suite_run import load_result, open_suite_data, run_part, save_result
from fastlabel.config import Config
from fastlabel.learner.hunt_refine import HuntRefinePlan, make_hunt_refine
from fastlabel.learner.base import PageKind
from fastlabel.learner.registry import CATALOG, HUNTING, STRATEGIES

VARIANTS = {
    "hr_c3": HuntRefinePlan(candidates_per_card=3),  # the previous default: 3 k-means candidates per refine card
    # a larger refine (uncertainty) share once some positives are labeled: after 10 labeled
    # positives the hunt takes at most half (hr_r50) or a quarter (hr_r25) of a page
    "hr_r50": HuntRefinePlan(candidates_per_card=3, refine_after=10, later_max_hunt=0.5),
    "hr_r25": HuntRefinePlan(candidates_per_card=3, refine_after=10, later_max_hunt=0.25),
    "hr_r25c10": HuntRefinePlan(refine_after=10, later_max_hunt=0.25),  # the same with the default's refine
}


def register_variants() -> None:
    for name, plan in VARIANTS.items():
        CATALOG[name] = STRATEGIES[name] = PageKind(name, f"hunt_refine {plan}", "neutral",
                                                    make_hunt_refine(plan=plan), needs=HUNTING)


def ratios(result, strategies: list[str]) -> list[str]:
    fig = collect(result)
    lines = []
    for s in strategies:
        cells = []
        for t in result.tasks():
            auc = paired(fig.cells(t.name, s, "auc95_s_mouse"), fig.cells(t.name, "random", "auc95_s_mouse"))
            find = paired(fig.cells(t.name, s, "find80_s_mouse"), fig.cells(t.name, EXPECTED, "find80_s_mouse"))
            text = f"{t.attribute}: auc95 ×{auc.ratio:.2f} [{auc.ratio_low:.2f},{auc.ratio_high:.2f}]" if auc else "-"
            if find and find.ratio:
                text += f" find80 ×{find.ratio:.2f}"
            cells.append(text)
        lines.append(f"{s:10s} " + " | ".join(cells))
    return lines


def merged(suite, folders: list[Path]):
    """One result from per-seed folders."""
    parts = [load_result(suite, f) for f in folders]
    result = parts[0]
    for other in parts[1:]:
        result.points += other.points
        result.facts.update(other.facts)
        result.seconds += other.seconds
    return result


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--encoder", default="imagenet")
    p.add_argument("--data-root", type=Path, default=Path("../shared/data"))
    p.add_argument("--out", type=Path, default=Path("bench-out/tune"))
    p.add_argument("--seeds", default=",".join(map(str, FULL.tune_seeds)), help="tuning seeds to run")
    p.add_argument("--from-saved", action="store_true")
    args = p.parse_args()
    register_variants()
    strategies = ["random", "hunt_refine", *VARIANTS]
    suite = replace(FULL, strategies=tuple(strategies))
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.from_saved:
        base = Config(encoder=args.encoder, home=args.home)
        data = {name: open_suite_data(name, base, args.data_root)
                for name in {t.data for t in suite.tasks if t.tuned}}
        for seed in seeds:  # one folder per seed, so a stopped run keeps what it finished
            part = run_part(replace(suite, tune_seeds=(seed,)), "tune", data,
                            lambda line: print(line, file=sys.stderr, flush=True))
            save_result(part, args.out / f"seed-{seed}")
    result = merged(suite, sorted(f for f in args.out.glob("seed-*") if (f / "facts.json").exists()))
    meta = {"plots": [p.name for p in write_suite_plots(result, "hunt_refine", args.out)]}
    (args.out / "summary.md").write_text(suite_markdown(result, "hunt_refine", meta))
    print("\n".join(ratios(result, strategies[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
