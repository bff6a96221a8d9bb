"""The `fastlabel` command line: serve, embed, replay, export, predict, bench, demo-data, export-model, classify."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import Config, default_home
from .errors import DataError, FastLabelError

log = logging.getLogger("fastlabel")


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data (none given: generated demo faces)")
    g.add_argument("--sprite", type=Path, help="sprite sheet image (tiles in rows)")
    g.add_argument("--grid", help="sprite grid as COLSxROWS, e.g. 200x150")
    g.add_argument("--tile", type=int, default=None, help="sprite tile size in px (default 48)")
    g.add_argument("--images", type=Path, help="a folder of images (searched recursively)")
    g.add_argument("--attributes", type=Path, help="CSV of 0/1 ground-truth columns (benchmarks only)")
    e = p.add_argument_group("embeddings")
    e.add_argument("--encoder", default="auto", help="auto | clip | imagenet | pixels | precomputed (default auto)")
    e.add_argument("--clip-model", default=Config.clip_model, help="open_clip model name or a model config JSON")
    e.add_argument("--clip-pretrained", default=Config.clip_pretrained,
                   help="open_clip pretrained tag, a local checkpoint path, or 'none' for random weights")
    e.add_argument("--embeddings", type=Path,
                   help=".npy of precomputed embeddings (N x D, row i = item i), or a folder of embedding shards "
                        "(from `embed --engine ray` or clip-retrieval)")
    e.add_argument("--input-size", type=int, default=None, help="imagenet encoder's input side in px (default 224)")
    e.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("--home", type=Path, default=None, help="cache and sessions folder (default .fastlabel)")
    p.add_argument("--seed", type=int, default=0)


def add_simulation_args(p, *, seeds: int | None) -> None:
    """Flags shared by `bench` and `replay --against`: what the simulated labeler answers from."""
    p.add_argument("--attribute", action="append",
                   help="attribute column to label (repeat, or comma-separate, for several)")
    p.add_argument("--identities", type=Path, help="image_id,identity CSV: the test split holds out whole people")
    p.add_argument("--seeds", type=int, default=seeds,
                   help=f"runs per strategy, seeds 0..N-1 (default {seeds or '5, or the suite’s'})")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out share (default 0.2)")


def check_data_args(args: argparse.Namespace) -> None:
    """Refuse flags that contradict each other, and a folder that is not there, before anything starts."""
    if args.images is None:
        return
    if args.sprite is not None:
        raise DataError("give --sprite or --images, not both")
    given = [flag for flag, value in (("--grid", args.grid), ("--tile", args.tile)) if value is not None]
    if given:
        raise DataError(f"{' and '.join(given)} describe a sprite sheet; a folder of images (--images) takes neither")
    if not args.images.is_dir():
        raise DataError(f"image folder {args.images} does not exist or is not a folder")


def config_from_args(args: argparse.Namespace, **extra) -> Config:
    check_data_args(args)
    pretrained = None if str(args.clip_pretrained).lower() in ("none", "") else args.clip_pretrained
    return Config(
        sprite=args.sprite, grid=args.grid, tile=48 if args.tile is None else args.tile, images=args.images,
        attributes=args.attributes,
        encoder=args.encoder, clip_model=args.clip_model, clip_pretrained=pretrained, embeddings=args.embeddings,
        device=args.device, home=args.home or default_home(), seed=args.seed,
        embed_input_size=getattr(args, "input_size", None), **extra,
    )


def tqdm_progress():
    """A progress callback (stage, done, total) drawing one tqdm bar per stage."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="img" if stage == "embedding" else "it")
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return report


def cmd_serve(args: argparse.Namespace) -> int:
    from .server.security import needs_token, new_token
    from .server.serving import serve

    token = args.token or (new_token() if needs_token(args.host) else None)
    cfg = config_from_args(args, host=args.host, port=args.port, token=token, session=args.session,
                           batch_size=args.batch_size, default_strategy=args.strategy, concept=args.concept)
    url = f"http://{'127.0.0.1' if args.host in ('127.0.0.1', 'localhost') else args.host}:{args.port}/"
    print(f"FastLabel on {url}{'?token=' + token if token else ''}", flush=True)
    if token:
        print(f"access token: {token}", flush=True)
    return serve(cfg, args.server)


def cmd_embed(args: argparse.Namespace) -> int:
    import time

    from .workspace import open_workspace

    if args.engine == "ray":
        return embed_on_ray(args)

    start = time.perf_counter()
    ws = open_workspace(config_from_args(args), progress=tqdm_progress())
    n, d = ws.embeddings.shape
    print(f"{n} items x {d} dims with {ws.encoder.id} in {time.perf_counter() - start:.1f} s "
          f"(cache: {ws.config.cache_dir})")
    index = ws.session.index  # the clustering and neighbour index: cached now, so `serve` starts with it
    if index.wait() and index.fitted is not None:
        print(f"index: {index.fitted.clustering.n_clusters} clusters, "
              f"{'loaded' if index.fitted.from_cache else 'fitted'} in {index.fitted.seconds:.1f} s")
    if args.out:
        import io

        import numpy as np

        from .files import write_atomic

        out = args.out if args.out.suffix == ".npy" else args.out.with_name(args.out.name + ".npy")
        buffer = io.BytesIO()
        np.save(buffer, np.asarray(ws.embeddings), allow_pickle=False)
        write_atomic(out, buffer.getvalue())
        print(f"wrote {out}")
    return 0


def embed_on_ray(args: argparse.Namespace) -> int:
    """`embed --engine ray --out DIR`: shards in the clip-retrieval layout, for `serve --embeddings DIR`."""
    import time

    from functools import partial

    from .data import load_source
    from .embeddings.ray_engine import embed_with_ray

    if args.out is None:
        raise FastLabelError("--engine ray writes a folder of shards: give it with --out DIR")
    start = time.perf_counter()
    report = tqdm_progress()
    config = config_from_args(args)
    if not (config.sprite or config.images):
        raise FastLabelError("--engine ray needs the data: --images DIR or --sprite PATH --grid CxR")
    source = partial(load_source, sprite=config.sprite, grid=config.grid, tile=config.tile, images=config.images)
    shards = embed_with_ray(config, source, args.out, address=args.ray_address, actors=args.ray_actors,
                            shard_rows=args.shard_rows, progress=lambda done, total: report("embedding", done, total))
    print(f"{shards.total} items x {shards.dim} dims in {len(shards.arrays)} shard(s) with {shards.encoder_id} "
          f"in {time.perf_counter() - start:.1f} s: {shards.root}\nserve them with --embeddings {shards.root}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .events import fold, load_events
    from .files import write_atomic
    from .session.views import labels_jsonl

    state = fold(load_events(args.session))
    data = labels_jsonl(state.labels)
    if args.out:
        write_atomic(args.out, data)
        print(f"wrote {len(state.labels)} labels to {args.out}")
    else:
        sys.stdout.write(data.decode())
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .replay import replay_file

    if args.against:
        return replay_against(args)
    print(replay_file(args.session, config_from_args(args), use_snapshots=not args.no_snapshots))
    return 0


def replay_against(args: argparse.Namespace) -> int:
    """Re-run the recorded session's budget with other strategies and print the comparison."""
    from .bench.command import against, parse_attribute_args
    from .bench.simulate import benchable_strategies
    from .events import load_events
    from .workspace import open_pool

    attributes = parse_attribute_args(args.attribute)
    strategies = benchable_strategies(args.against)
    events = load_events(args.session)
    pool = open_pool(config_from_args(args), progress=tqdm_progress())
    print(against(events, pool, attributes, strategies, args.identities, args.seeds, args.test_fraction))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench.command import bench, parse_attribute_args
    from .bench.runner import BenchSpec
    from .bench.simulate import benchable_strategies
    from .workspace import open_pool

    if args.suite:
        return bench_suite(args)
    spec = BenchSpec(attributes=parse_attribute_args(args.attribute),
                     strategies=tuple(benchable_strategies(args.strategies or "all")), budget=args.budget,
                     batch_size=args.batch_size or 48, seeds=args.seeds or 5, test_fraction=args.test_fraction)
    pool = open_pool(config_from_args(args), progress=tqdm_progress())
    report = bench(pool, spec, args.identities, args.out, plots=not args.no_plots,
                   progress=None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True))
    print(report)
    print(f"wrote {args.out}/: points.csv, summary.json, summary.md"
          + ("" if args.no_plots else ", auc_vs_labels.png, auc_vs_clicks.png"))
    return 0


def bench_suite(args: argparse.Namespace) -> int:
    """`bench --suite NAME`: the fixed task list, tuning and report parts, both goals, paired intervals."""
    from .bench.command import bench_suite as run_suite
    from .bench.simulate import benchable_strategies
    from .bench.suite import get_suite

    suite = get_suite(args.suite, strategies=benchable_strategies(args.strategies) if args.strategies else None,
                      seeds=args.seeds, batch_size=args.batch_size, auc_only=args.auc_only)
    parts = ("tune", "report") if args.part == "all" else (args.part,)
    text = run_suite(config_from_args(args), suite, parts, args.data_root, args.out, Config.default_strategy,
                     plots=not args.no_plots, from_saved=args.from_saved,
                     progress=None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True))
    print(text)
    print(f"wrote {', '.join(str(args.out / p) for p in parts)}/: points.csv, facts.json, summary.md"
          + ("" if args.no_plots else " and the plots"))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import orjson

    from .files import write_atomic
    from .events import load_events
    from .replay import replay_session

    from .session.snapshots import snapshot_dir

    session = replay_session(load_events(args.session), config_from_args(args), snapshot_dir(args.session))
    body = session.predictions()
    write_atomic(args.out, orjson.dumps(body, option=orjson.OPT_INDENT_2))
    print(f"wrote predictions for {session.n_items} items ({body['predicted_positive']} positive) to {args.out}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from .data import make_demo

    demo = make_demo(args.out, n=args.n, seed=args.seed)
    print(f"wrote {demo.n} demo faces: --sprite {demo.sprite} --grid {demo.grid} --attributes {demo.attributes}")
    return 0


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
    p.add_argument("--strategy", default=Config.default_strategy, help="strategy the page starts with")
    p.add_argument("--concept", help="the concept to label, opened or created, e.g. smiling "
                   "(default: the one labeled last; 'positive' in a new workspace)")
    p.add_argument("--server", choices=("auto", "gunicorn", "dev"), default="auto",
                   help="gunicorn (auto, where it runs) or Werkzeug's development server")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("embed", help="compute (and cache) the embeddings with a progress bar")
    add_data_args(p)
    p.add_argument("--out", type=Path, help="also save them as .npy (with --engine ray: the shard folder)")
    r = p.add_argument_group("distributed (pip install 'fastlabel[distributed]')")
    r.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process; ray: Ray Data actors, writing shards to --out DIR")
    r.add_argument("--ray-address", help="an existing Ray cluster (default: start one on this machine)")
    r.add_argument("--ray-actors", type=int, help="encoder actors (default: 1 here, one per 4 CPUs or per GPU on a cluster)")
    r.add_argument("--shard-rows", type=int, default=100_000, help="embeddings per shard (default 100000)")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("replay", help="rebuild a session from its JSONL and summarise it")
    p.add_argument("session", type=Path)
    p.add_argument("--no-snapshots", action="store_true",
                   help="retrain at every model_trained event instead of starting from the saved head snapshots")
    add_data_args(p)
    g = p.add_argument_group("compare with other strategies (needs --attributes and --attribute)")
    g.add_argument("--against", metavar="STRATEGIES",
                   help="all | a,b,c: re-run the session's budget and page size with these strategies")
    add_simulation_args(g, seeds=3)
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("bench", help="simulate labeling with each strategy, answering from an attribute CSV")
    add_data_args(p)
    p.add_argument("--strategies", help="all | a,b,c (default all; with --suite, the suite's own)")
    p.add_argument("--budget", type=int, default=600, help="labels per run (default 600)")
    p.add_argument("--batch-size", type=int, help="page size (default 48, or the suite's)")
    s_ = p.add_argument_group("suite (instead of --attribute: fixed tasks, both goals, paired intervals)")
    s_.add_argument("--suite", help="full | smoke: see benchmarks/README.md")
    s_.add_argument("--part", default="report", choices=("tune", "report", "all"),
                    help="tune: tuned tasks on the tuning seeds; report: every task on held-out seeds")
    s_.add_argument("--data-root", type=Path, default=Path("../shared/data"),
                    help="folder holding celeba10k/ (default ../shared/data)")
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

    from .model.commands import register as register_model_commands

    register_model_commands(sub, add_data_args, config_from_args, tqdm_progress)
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
