"""What each `fastlabel` command does once its flags are parsed."""

from __future__ import annotations

import argparse
import logging
import sys

from ..config import Config
from ..errors import FastLabelError
from ..learner.goals import GOALS
from .arguments import config_from_args, journal_config, tqdm_progress

log = logging.getLogger("fastlabel")


def line_progress(args: argparse.Namespace):
    """The bench commands' progress: a line to stderr per step, or nothing with --quiet."""
    return None if args.quiet else lambda line: print(line, file=sys.stderr, flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    from ..server.security import needs_token, new_token
    from ..server.serving import serve

    token = args.token or (new_token() if needs_token(args.host) else None)
    cfg = serve_config(args, token)
    url = f"http://{'127.0.0.1' if args.host in ('127.0.0.1', 'localhost') else args.host}:{args.port}/"
    print(f"FastLabel on {url}{'?token=' + token if token else ''}", flush=True)
    if token:
        print(f"access token: {token}", flush=True)
    return serve(cfg, args.server)


def serve_config(args: argparse.Namespace, token: str | None) -> Config:
    """The server's Config; a journal given with --session that exists brings its recorded data and
    encoder, so resuming it needs no data flags."""
    from ..provenance import recorded_start

    recorded = recorded_start(args.session) if args.session is not None else None
    return config_from_args(args, recorded, host=args.host, port=args.port, token=token, session=args.session,
                            batch_size=args.batch_size, default_strategy=args.strategy, concept=args.concept,
                            goal=args.goal)


def cmd_embed(args: argparse.Namespace) -> int:
    import time

    from ..workspace import open_workspace

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

        from ..files import write_atomic

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

    from ..data import load_source
    from ..embeddings.ray_engine import embed_with_ray, open_encoder
    from ..workspace import source_options

    if args.out is None:
        raise FastLabelError("--engine ray writes a folder of shards: give it with --out DIR")
    start = time.perf_counter()
    report = tqdm_progress()
    config = config_from_args(args)
    if not config.has_data:
        raise FastLabelError("--engine ray needs the data: --images DIR, --audio DIR, --manifest FILE or "
                             "--sprite PATH --grid CxR")
    encoder = open_encoder(config, device="cpu") if config.media == "audio" else None  # its input cuts the windows
    source = partial(load_source, **source_options(config, encoder))
    shards = embed_with_ray(config, source, args.out, address=args.ray_address, actors=args.ray_actors,
                            shard_rows=args.shard_rows, progress=lambda done, total: report("embedding", done, total))
    print(f"{shards.total} items x {shards.dim} dims in {len(shards.arrays)} shard(s) with {shards.encoder_id} "
          f"in {time.perf_counter() - start:.1f} s: {shards.root}\nserve them with --embeddings {shards.root}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..events import fold, load_events
    from ..files import write_atomic
    from ..session.views import labeler_fields, labels_jsonl

    state = fold(load_events(args.session))
    data = labels_jsonl(state.labels, who=labeler_fields(state))
    if args.out:
        write_atomic(args.out, data)
        print(f"wrote {len(state.labels)} labels to {args.out}")
    else:
        sys.stdout.write(data.decode())
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from ..events import load_events
    from ..replay import replay_file

    if args.against:
        return replay_against(args)
    events = load_events(args.session)
    config, recording = journal_config(args, events)
    print(replay_file(args.session, events, config, recording, use_snapshots=not args.no_snapshots,
                      labeler=args.labeler))
    return 0


def replay_against(args: argparse.Namespace) -> int:
    """Re-run the recorded session's budget with other strategies and print the comparison."""
    from ..bench.command import against, parse_attribute_args
    from ..bench.simulate import benchable_strategies
    from ..events import load_events
    from ..workspace import open_pool

    attributes = parse_attribute_args(args.attribute)
    strategies = benchable_strategies(args.against)
    events = load_events(args.session)
    config, recording = journal_config(args, events)
    pool = open_pool(config, progress=tqdm_progress(), recording=recording)
    print(against(events, pool, attributes, strategies, args.identities, args.seeds, args.test_fraction))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from ..bench.command import bench, parse_attribute_args
    from ..bench.runner import BenchSpec
    from ..bench.simulate import benchable_strategies
    from ..workspace import open_pool

    if args.suite:
        return bench_suite(args)
    spec = BenchSpec(attributes=parse_attribute_args(args.attribute),
                     strategies=tuple(bench_strategies(args) or benchable_strategies("all")), budget=args.budget,
                     batch_size=args.batch_size or 48, seeds=args.seeds or 5, test_fraction=args.test_fraction,
                     query=args.query)
    pool = open_pool(config_from_args(args), progress=tqdm_progress())
    report = bench(pool, spec, args.identities, args.out, plots=not args.no_plots,
                   progress=line_progress(args))
    print(report)
    print(f"wrote {args.out}/: points.csv, summary.json, summary.md"
          + ("" if args.no_plots else ", auc_vs_labels.png, auc_vs_clicks.png"))
    return 0


def bench_strategies(args: argparse.Namespace) -> list[str] | None:
    """--strategies as named; else --goal's default strategy alone; else None (all, or the suite's)."""
    from ..bench.simulate import benchable_strategies
    from ..learner.goals import get_goal

    if args.strategies:
        return benchable_strategies(args.strategies)
    if args.goal:
        return [get_goal(args.goal).strategy]
    return None


def bench_suite(args: argparse.Namespace) -> int:
    """`bench --suite NAME`: the fixed task list, tuning and report parts, both goals, paired intervals."""
    from ..bench.command import bench_suite as run_suite
    from ..bench.suite import get_suite

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None
    suite = get_suite(args.suite, strategies=bench_strategies(args), seeds=args.seeds, batch_size=args.batch_size,
                      auc_only=args.auc_only, tasks=tasks, first_seed=args.first_seed)
    parts = ("tune", "report") if args.part == "all" else (args.part,)
    text = run_suite(config_from_args(args), suite, parts, args.data_root, args.out, GOALS["train"].strategy,
                     plots=not args.no_plots, from_saved=args.from_saved,
                     progress=line_progress(args))
    print(text)
    print(f"wrote {', '.join(str(args.out / p) for p in parts)}/: points.csv, facts.json, summary.md"
          + ("" if args.no_plots else " and the plots"))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import orjson

    from ..files import write_atomic
    from ..events import load_events
    from ..replay import replay_session

    from ..session.snapshots import snapshot_dir

    events = load_events(args.session)
    config, recording = journal_config(args, events)
    session = replay_session(events, config, snapshot_dir(args.session), recording)
    body = session.predictions()
    write_atomic(args.out, orjson.dumps(body, option=orjson.OPT_INDENT_2))
    print(f"wrote predictions for {session.n_items} items ({body['predicted_positive']} positive) to {args.out}")
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    from ..data import make_demo

    demo = make_demo(args.out, n=args.n, seed=args.seed)
    print(f"wrote {demo.n} demo faces: --sprite {demo.sprite} --grid {demo.grid} --attributes {demo.attributes}")
    return 0


def cmd_users(args: argparse.Namespace) -> int:
    """`fastlabel users add|list|remove|rotate`: a token is printed once, only its hash is kept."""
    from ..config import default_home
    from ..users import UserStore

    store = UserStore(args.home or default_home())
    if args.action == "list":
        users = store.users()
        for user in users:
            print(f"{user.name}\t{user.role}")
        if not users:
            print("no users: the app is single-user (no sign-in)")
        return 0
    if args.action == "remove":
        store.remove(args.name)
        print(f"removed {args.name}; their labels stay in the journals under that name")
        return 0
    token = store.add(args.name, admin=args.admin) if args.action == "add" else store.rotate(args.name)
    role = store.get(args.name).role  # type: ignore[union-attr]
    print(f"{args.name} ({role}): personal token (shown once, keep it safe):\n{token}")
    return 0
