"""`fastlabel export-model`, `export-table` and `classify`, registered by cli.py (which hands in its data
flags, its Config builders, from flags and for a journal, and its progress bar, so this module never
imports the CLI)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from ..config import default_home
from ..errors import InvalidInput


def cmd_export_model(args: argparse.Namespace) -> int:
    from ..events import load_events
    from ..workspace import open_pool
    from .artifact import write_artifact
    from .versions import latest_version, replayed_snapshot, source_args

    fmt = args.format or ("onnx" if args.out.suffix.lower() == ".onnx" else "safetensors")
    if fmt == "onnx":
        from .onnx_export import require_onnx

        require_onnx()  # before the replay, so a missing extra costs nothing
    events = load_events(args.session)
    seq = latest_version(events) if args.at is None else args.at
    config, recording = args.journal_config(args, events)  # the recorded data and encoder, unless flags give them
    pool = open_pool(config, progress=args.progress(), recording=recording)
    export = replayed_snapshot(events, seq, pool.embeddings, pool.encoder, **source_args(pool.source))
    meta = export.metadata
    if fmt == "onnx":
        from .onnx_export import CHECK_IMAGES, export_onnx, pixels_of

        clf = export.classifier(encoder=pool.encoder)  # the pool's encoder is the model's own
        n = min(CHECK_IMAGES, len(pool.source))
        diff = export_onnx(clf, args.out, pixels_of([pool.source.image(i) for i in range(n)], meta["encoder"]))
        print(f"ONNX graph matches torch on {n} images (max abs difference {diff:.1e})")
    else:
        write_artifact(args.out, export.tensors, meta)
    t = meta["training"]
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): concept {meta['concept']!r}, version at event {seq} "
          f"({t['labels']} labels, {t['positives']} positive), encoder {meta['encoder']['id']}")
    return 0


def classify_data(args: argparse.Namespace, clf: Any, open_images: Callable[[], Any], home: Path) -> Callable[[], Any]:
    """What opens the source `classify` reads (a picklable opener, which Ray's workers call too): images as
    given (`open_images`), or recordings cut as the model's were (its sample rate, window and hop; --window
    and --hop override), the model's media checked first."""
    from functools import partial

    from ..data import load_source
    from ..data.media import AUDIO, IMAGE, encoder_media

    takes = encoder_media(clf.encoder) or IMAGE.name
    given = AUDIO.name if args.audio is not None else IMAGE.name
    if takes != given:
        flag = "--audio DIR" if takes == AUDIO.name else "--images DIR, --manifest FILE or --sprite PATH"
        raise InvalidInput(f"this model was trained on {takes} ({clf.metadata['encoder']['id']}); give {flag}")
    if args.audio is None:
        if args.window is not None or args.hop is not None:
            raise InvalidInput("--window and --hop cut recordings; give them with --audio DIR")
        return open_images
    if args.images is not None or args.sprite is not None or args.manifest is not None or args.hf_dataset is not None:
        raise InvalidInput("give --audio DIR alone, not with another data source")
    cut = clf.metadata.get("media") or {}
    window = args.window or cut.get("window_s") or clf.encoder.window_s
    return partial(load_source, audio=args.audio, window_s=window, hop_s=args.hop or cut.get("hop_s") or window,
                   sample_rate=clf.encoder.sample_rate, registry_dir=home / "folders")


def cmd_classify(args: argparse.Namespace) -> int:
    from functools import partial

    from ..data import load_source
    from ..data.sources import TableSpec
    from .classifier import Classifier
    from .classify import classify_source, output_format, rows_bytes, write_raven, write_rows

    home = args.home or default_home()
    table = TableSpec(manifest=args.manifest, path_column=args.path_column, id_column=args.id_column,
                      hf_dataset=args.hf_dataset, image_column=args.image_column, split=args.split,
                      cache_dir=home / "cache" / "hf")
    open_source = partial(load_source, sprite=args.sprite, grid=args.grid, tile=args.tile, images=args.images,
                          table=table, registry_dir=home / "folders")
    raven = args.format == "raven"
    if args.engine == "ray" and raven:
        raise InvalidInput("--engine ray writes parquet shards; --format raven's selection tables come from the "
                           "local engine")
    if raven and (args.audio is None or args.out is None):
        raise InvalidInput("--format raven writes one selection table per recording: give --audio DIR and --out FOLDER")
    fmt = None if raven or args.engine == "ray" else output_format(args.out)
    clf = Classifier.load(args.model, clip_checkpoint=args.clip_checkpoint, device=args.device, cache_dir=home / "cache")
    clf.encoder  # noqa: B018 - rebuild (or refuse) before reading any image
    opener = classify_data(args, clf, open_source, home)
    if args.engine == "ray":
        return classify_on_ray(args, opener, home)
    source = opener()
    report = args.progress()
    result = classify_source(clf, source, home / "cache", threshold=args.threshold,
                             progress=lambda done, total: report("embedding", done, total))
    if raven:
        counts = write_raven(result.rows, args.out, high_hz=clf.encoder.sample_rate / 2)
        note = f"; wrote {len(counts)} selection tables ({sum(counts.values())} selections) to {args.out}"
    elif args.out is None:
        sys.stdout.write(rows_bytes(result.rows, fmt).decode())
        note = ""
    else:
        write_rows(result.rows, args.out)
        note = f"; wrote {args.out}"
    n = len(result.rows)
    unit = "windows" if args.audio is not None else "images"
    print(f"classified {n} {unit} as {clf.concept!r}: {result.positives} positive at threshold {result.threshold} "
          f"in {result.seconds:.1f} s ({n / max(result.seconds, 1e-9):.1f} {unit}/s){note}", file=sys.stderr)
    return 0


def classify_on_ray(args: argparse.Namespace, open_source: Callable[[], Any], home: Path) -> int:
    """`classify --engine ray --out DIR`: parquet shards, resumed where a previous run stopped."""
    import time

    from .classify_ray import classify_with_ray

    if args.out is None or args.out.suffix:
        raise InvalidInput("--engine ray writes a folder of parquet shards: give it with --out DIR")
    start = time.perf_counter()
    report = args.progress()
    result = classify_with_ray(args.model, open_source, args.out, address=args.ray_address, actors=args.ray_actors,
                               shard_rows=args.shard_rows, threshold=args.threshold, cache_dir=home / "cache",
                               clip_checkpoint=args.clip_checkpoint,
                               progress=lambda done, total: report("classifying", done, total))
    seconds = time.perf_counter() - start
    unit = "windows" if args.audio is not None else "images"
    print(f"classified {result.rows} {unit} into {len(result.written) + len(result.skipped)} shard(s) in {result.out} "
          f"({len(result.written)} written, {len(result.skipped)} already there) in {seconds:.1f} s", file=sys.stderr)
    return 0


def cmd_export_table(args: argparse.Namespace) -> int:
    from ..workspace import open_workspace
    from .label_table import label_table, table_format, write_table

    fmt = table_format(args.out, args.format)
    ws = open_workspace(args.make_config(args, session=args.session), progress=args.progress())
    try:
        table = label_table(ws, args.concept)
        written = write_table(ws, table, args.out, fmt)
    finally:
        ws.concepts.close()  # the journals' locks, for whoever opens them next
    print(f"wrote {len(table)} items x {len(table.concepts)} concept(s) ({', '.join(table.concepts)}) "
          f"as {fmt} to {written}")
    return 0


def register(sub: argparse._SubParsersAction, add_data_args: Callable[[argparse.ArgumentParser], None],
             add_ray_args: Callable[[argparse.ArgumentParser, str, str], None],
             make_config: Callable[..., Any], journal_config: Callable[[argparse.Namespace, Any], Any],
             progress: Callable[[], Any]) -> None:
    """Add the two commands to the `fastlabel` parser."""
    p = sub.add_parser("export-model", help="write a session's model (latest or --at SEQ) as a file")
    p.add_argument("session", type=Path)
    add_data_args(p)
    p.add_argument("--at", type=int, metavar="SEQ", help="the model_trained event to export (default: the latest)")
    p.add_argument("--out", type=Path, required=True, help="model file (.safetensors, or .onnx with --format onnx)")
    p.add_argument("--format", choices=("safetensors", "onnx"),
                   help="safetensors (default) or onnx (one graph from pixels to probability; needs [onnx])")
    p.set_defaults(func=cmd_export_model, journal_config=journal_config, progress=progress)

    p = sub.add_parser("export-table", help="every item with a label, P(positive) and labeler per concept: "
                       "CSV, Parquet, a Hugging Face dataset, Label Studio tasks or a FiftyOne dataset")
    add_data_args(p)
    p.add_argument("--session", type=Path, help="the session journal (default: the workspace's, under --home)")
    p.add_argument("--concept", action="append", help="a concept to include (repeat; default: every concept)")
    p.add_argument("--out", type=Path, required=True,
                   help="F.csv, F.parquet, F.json (Label Studio), or a new folder (--format hf or fiftyone)")
    p.add_argument("--format", choices=("csv", "parquet", "hf", "label-studio", "fiftyone"),
                   help="default: from the --out suffix")
    p.set_defaults(func=cmd_export_table, make_config=make_config, progress=progress)

    p = sub.add_parser("classify", help="run an exported model on new images or recordings")
    p.add_argument("model", type=Path)
    g = p.add_argument_group("data (one source)")
    g.add_argument("--images", type=Path, help="a folder of images (searched recursively)")
    g.add_argument("--sprite", type=Path, help="sprite sheet image (tiles in rows)")
    g.add_argument("--grid", help="sprite grid as COLSxROWS")
    g.add_argument("--tile", type=int, default=48, help="tile size in px (default 48)")
    g.add_argument("--manifest", type=Path, help="a CSV or Parquet table of image paths")
    g.add_argument("--path-column", help="the manifest's path column (default: path, file, image or filepath)")
    g.add_argument("--id-column", help="the manifest's id column (default: id, if present)")
    g.add_argument("--hf-dataset", type=Path, help="a Hugging Face dataset on disk (offline)")
    g.add_argument("--image-column", help="the dataset's image column")
    g.add_argument("--split", help="the dataset's split (default: train, or its first)")
    g.add_argument("--audio", type=Path, help="a folder of recordings, cut into windows as the model's were")
    g.add_argument("--window", type=float, metavar="SECONDS", help="with --audio: window length (default: the model's)")
    g.add_argument("--hop", type=float, metavar="SECONDS", help="with --audio: step between windows (default: the model's)")
    p.add_argument("--out", type=Path, help="F.jsonl or F.csv (default: JSONL on stdout); with --format raven or "
                   "--engine ray a folder")
    p.add_argument("--format", choices=("rows", "raven"), default="rows",
                   help="rows: one row per image or window (default); raven: with --audio, one Raven Pro selection "
                        "table per recording, the windows at or above the threshold merged into selections")
    add_ray_args(p, "model", "rows")
    p.add_argument("--threshold", type=float, help="P(positive) at or above which label is 1 (default: the model's)")
    p.add_argument("--clip-checkpoint", type=Path, help="the CLIP checkpoint file a checkpoint-based model needs")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    p.add_argument("--home", type=Path, default=None, help="where the embedding cache lives (default .fastlabel)")
    p.set_defaults(func=cmd_classify, progress=progress)
