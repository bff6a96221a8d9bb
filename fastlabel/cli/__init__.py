"""The `fastlabel` command line: serve, embed, replay, export, predict, bench, demo-data, users, export-model, classify."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from ..version import __version__
from ..config import Config
from ..errors import FastLabelError
from .arguments import add_data_args, add_ray_args, add_simulation_args, config_from_args, journal_config, tqdm_progress
from .commands import (
    cmd_bench,
    cmd_demo_data,
    cmd_embed,
    cmd_export,
    cmd_predict,
    cmd_replay,
    cmd_serve,
    cmd_users,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastlabel", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fastlabel {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="start the labeling app (http://127.0.0.1:8008)")
    add_data_args(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8008)
    p.add_argument("--token", help="access token (required, and generated if absent, off loopback)")
    p.add_argument("--session", type=Path, help="session journal (JSONL); resumed if it exists")
    p.add_argument("--batch-size", type=int, default=48)
    p.add_argument("--goal", choices=("find", "train"), default=Config.goal,
                   help="find every positive, or train a classifier (default %(default)s); the page can switch it")
    p.add_argument("--strategy", help="strategy the page starts with (default: the goal's)")
    p.add_argument("--concept", help="the concept to label, opened or created, e.g. smiling "
                   "(default: the one labeled last; 'positive' in a new workspace)")
    p.add_argument("--server", choices=("auto", "gunicorn", "dev"), default="auto",
                   help="gunicorn (auto, where it runs) or Werkzeug's development server")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("embed", help="compute (and cache) the embeddings with a progress bar")
    add_data_args(p)
    p.add_argument("--out", type=Path, help="also save them as .npy (with --engine ray: the shard folder)")
    add_ray_args(p, "encoder", "embeddings")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("replay", help="rebuild a session from its JSONL and summarise it")
    p.add_argument("session", type=Path)
    p.add_argument("--no-snapshots", action="store_true",
                   help="retrain at every model_trained event instead of starting from the saved head snapshots")
    p.add_argument("--labeler", help="replay only this labeler's pages, labels and undos (and the session's own events)")
    add_data_args(p)
    g = p.add_argument_group("compare with other strategies (needs --attributes and --attribute)")
    g.add_argument("--against", metavar="STRATEGIES",
                   help="all | a,b,c: re-run the session's budget and page size with these strategies")
    add_simulation_args(g, seeds=3)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("bench", help="simulate labeling with each strategy, answering from an attribute CSV")
    add_data_args(p)
    p.add_argument("--strategies", help="all | a,b,c (default all; with --suite, the suite's own)")
    p.add_argument("--goal", choices=("find", "train"),
                   help="without --strategies: that goal's default strategy alone (with --suite: and random)")
    p.add_argument("--budget", type=int, default=600, help="labels per run (default 600)")
    p.add_argument("--query", help="the zero-shot rows' query: a text for CLIP, a class name for BirdNET "
                   "(default: made from the attribute's name)")
    p.add_argument("--batch-size", type=int, help="page size (default 48, or the suite's)")
    s_ = p.add_argument_group("suite (instead of --attribute: fixed tasks, both goals, paired intervals)")
    s_.add_argument("--suite", help="full | smoke: see benchmarks/README.md")
    s_.add_argument("--part", default="report", choices=("tune", "report", "all"),
                    help="tune: tuned tasks on the tuning seeds; report: every task on held-out seeds")
    s_.add_argument("--data-root", type=Path, default=Path("../shared/data"),
                    help="folder holding celeba10k/ (default ../shared/data)")
    s_.add_argument("--tasks", help="some of the suite's tasks only: Attribute or data/Attribute, comma-separated")
    s_.add_argument("--first-seed", type=int, help="the part's seeds from this one on (split a long run)")
    s_.add_argument("--from-saved", action="store_true", help="rewrite tables and plots from a previous --out")
    s_.add_argument("--auc-only", action="store_true",
                    help="the classifier goal only: every run stops at the AUC targets (much cheaper)")
    p.add_argument("--out", type=Path, default=Path("bench-out"), help="output folder (default bench-out)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots (no matplotlib needed)")
    p.add_argument("--quiet", action="store_true", help="no per-run progress lines")
    add_simulation_args(p, seeds=None)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("export", help="labels of a session JSONL as JSONL ({id, label} per line)")
    p.add_argument("session", type=Path)
    p.add_argument("--out", type=Path)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="replay a session and export a label for every item, with estimates")
    p.add_argument("session", type=Path)
    p.add_argument("--out", type=Path, default=Path("predictions.json"))
    add_data_args(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo-data", help="write the generated demo faces (sprite + attributes CSV)")
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo_data)

    p = sub.add_parser("users", help="the people who label together: add, list, remove, rotate a token")
    p.add_argument("--home", type=Path, default=None, help="cache and sessions folder (default .fastlabel)")
    users = p.add_subparsers(dest="action", required=True)
    u = users.add_parser("add", help="add a user and print their personal token (shown once)")
    u.add_argument("name")
    u.add_argument("--admin", action="store_true", help="may create concepts, export, manage users, resolve")
    users.add_parser("list", help="the users and their roles")
    u = users.add_parser("remove", help="remove a user (their labels stay, under their name)")
    u.add_argument("name")
    u = users.add_parser("rotate", help="a new token for a user; the old one stops working")
    u.add_argument("name")
    p.set_defaults(func=cmd_users)

    from ..model.commands import register as register_model_commands

    register_model_commands(sub, add_data_args, add_ray_args, config_from_args, journal_config, tqdm_progress)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except FastLabelError as exc:
        print(f"fastlabel: error: {exc}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"fastlabel: error: {exc}", file=sys.stderr)
        return 2
