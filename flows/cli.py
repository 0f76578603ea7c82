"""``geocube-ingester``: validate a payload, ingest it (the parent flow, local or on work pools), then
follow an AOI: its status across attempts, its tile graph, retries and failed tiles, its deletion."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common.errors import IngestError, ValidationFailedError
from common.redaction import install_redaction


def _show_warnings() -> None:
    """Warnings of the checks (e.g. precision lost by a layer's data mapping) go to stderr."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    checks = logging.getLogger("jobs.validation")
    checks.addHandler(handler)
    checks.setLevel(logging.WARNING)


def cmd_validate(args: argparse.Namespace) -> int:
    from common.settings import load_settings
    from jobs.ingestion import validate

    _show_warnings()
    settings = load_settings()
    raw = sys.stdin.read() if args.payload == "-" else Path(args.payload).read_text()
    payload, _ = validate(raw, with_geocube=bool(settings.geocube_server))
    print(
        f"payload {payload.name!r} is valid: {payload.constellation.value}, "
        f"{payload.start_time:%Y-%m-%d} .. {payload.end_time:%Y-%m-%d}, "
        f"graphs {payload.scene_graph_name} -> {payload.tile_graph_name}, {len(payload.layers)} layer(s)"
    )
    if not settings.geocube_server:
        print("layers were not checked against a Geocube: set GEOCUBE_SERVER to do so")
    return 0


def _document(args: argparse.Namespace) -> dict[str, Any] | None:
    given = args.tiles or args.scenes
    return json.loads(Path(given).read_text()) if given else None


def cmd_plan(args: argparse.Namespace) -> int:
    import time

    from catalogue.interchange import InterchangeShape, read_interchange, write_interchange
    from common.settings import load_settings
    from jobs.ingestion import make_plan, validate
    from jobs.resources import storage_uri_for

    started = time.monotonic()
    _show_warnings()
    settings = load_settings()
    raw = Path(args.payload).read_text()
    # the layers and their data mappings are checked against the Geocube when one is configured; a
    # plan runs no graph step, so an engine missing here only warns
    payload, _ = validate(raw, with_geocube=bool(settings.geocube_server), require_engines=False)
    document = _document(args)
    storage_uri = storage_uri_for(payload.storage_uri, settings, required=False)
    given = read_interchange(document) if document else None
    plan = make_plan(payload, given, storage_uri)
    elapsed = time.monotonic() - started
    print(plan.describe())
    from jobs.ingestion import quota_report

    for line in quota_report(storage_uri, plan):
        print(line)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    properties = {**(given.properties if given else {}), "truncated": str(plan.truncated).lower()}
    for name, tiles in (("scenes.json", []), ("tiles.json", plan.tiles)):
        doc = write_interchange(
            plan.scenes,
            tiles,
            aoi=plan.aoi,
            properties=properties,
            graph_name=payload.scene_graph_name,
            tile_graph_name=payload.tile_graph_name,
            graph_config=payload.graph_config,
            is_retriable=payload.is_retriable,
            storage_uri=payload.storage_uri,
            shape=InterchangeShape(args.interchange_shape),
            originals=given.originals if given else None,
        )
        tmp = out / f".{name}.part"
        tmp.write_text(json.dumps(doc, indent=1))
        tmp.replace(out / name)
    print(
        f"\nwrote {out / 'scenes.json'} and {out / 'tiles.json'} (the original's interchange format, "
        f"{args.interchange_shape} shape)"
    )
    if args.png:
        from catalogue.picture import draw_plan

        png = draw_plan(
            out / "plan.png",
            aoi_wkt=payload.aoi_wkt,
            scenes=plan.scenes,
            tiles=plan.tiles,
            title=plan.summary(),
        )
        print(f"drew {png}")
    print(f"planned in {elapsed:.2f} s")
    return 0


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, at least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be at least 1 (1 runs one child per item)")
    return value


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows.prefect_api import ensure_prefect_api

    ensure_prefect_api()  # before the flow: a clear message if no Prefect API comes up

    from catalogue.models import without_link_secrets
    from common.jsonload import load_json
    from flows.ingest import ingest
    from flows.progress import add_listener

    raw = load_json(Path(args.payload).read_bytes(), what="payload")  # duplicate keys refused, not lost
    document = _document(args)
    if document:  # a flow parameter is shown in the Prefect UI: its links go without their secrets
        document = without_link_secrets(document)
    kind = "tiles" if args.tiles else "scenes"
    extra: dict[str, Any] = {}
    if document:  # past Prefect's parameter limit, by reference through the storage
        from common.settings import load_settings
        from jobs.stash import document_parameters

        raw_fields = raw if isinstance(raw, dict) else {}
        storage = (
            str(raw_fields.get("storage_uri") or "") or load_settings().storage_uri
        )  # as the flow picks it
        aoi = str(raw_fields.get("name") or "_documents")
        extra = document_parameters(document, kind=kind, aoi=aoi, storage_uri=storage)
    show_bar = args.progress if args.progress is not None else sys.stderr.isatty()
    remove = add_listener(_draw_bar) if show_bar else None
    try:
        state = ingest(
            payload=raw, mode=args.mode, dry_run=args.dry_run, return_state=True,
            scenes_per_child=args.scenes_per_child, tiles_per_child=args.tiles_per_child, **extra,
        )  # fmt: skip
    finally:
        if remove is not None:
            remove()
            sys.stderr.write("\n")
    return _print_outcome(state)


def _draw_bar(snapshot: Any) -> None:
    """The live progress bar of scenes and tiles, with its ETA, on one line of stderr."""
    sys.stderr.write("\r\x1b[2K" + snapshot.bar())
    sys.stderr.flush()


def cmd_verify(args: argparse.Namespace) -> int:
    from common.errors import PermanentError
    from common.settings import load_settings
    from jobs.resources import open_geocube
    from jobs.verify import verify_aoi, write_quicklooks
    from storage import open_storage

    settings = load_settings()
    uri = args.storage or settings.storage_uri
    if not uri:
        raise PermanentError("no storage: set GEOCUBE_INGESTER_STORAGE_URI or give --storage")
    with open_geocube(settings) as geocube:
        report = verify_aoi(geocube, open_storage(uri), args.aoi)
    for check in report.checks:
        print(check.line())
    print(report.headline())
    if not report.checks:
        print(
            f"no layer of AOI {args.aoi!r} under {uri} is indexed in the Geocube at {settings.geocube_server}"
        )
    if args.png:
        red, green, blue = [*args.rgb.split(","), "", "", ""][:3]
        for path in write_quicklooks(report, Path(args.png), rgb=(red, green, blue)):
            print(f"quicklook from the Geocube's answer: {path}")
    return 0 if report.all_equal else 1


def _storage_of(args: argparse.Namespace) -> Any:
    from common.errors import PermanentError
    from common.settings import load_settings
    from storage import open_storage

    uri = args.storage or load_settings().storage_uri
    if not uri:
        raise PermanentError("no storage: set GEOCUBE_INGESTER_STORAGE_URI or give --storage")
    return open_storage(uri)


def cmd_status(args: argparse.Namespace) -> int:
    from flows.status import read_status

    status = read_status(_storage_of(args), args.aoi, use_prefect=not args.no_prefect)
    print(json.dumps(status.to_json(), indent=1) if args.json else status.report())
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from catalogue.graphviz import make_dot, render
    from flows.status import read_status

    status = read_status(_storage_of(args), args.aoi, use_prefect=not args.no_prefect)
    states = {key: item.state.value for key, item in status.tiles.items()}
    dot = make_dot(args.aoi, list(status.links.values()), states, collapse_at=args.collapse_at)
    if args.format == "dot" and not args.out:
        print(dot, end="")
        return 0
    out = render(dot, args.format, Path(args.out or f"{args.aoi}.{args.format}"))
    print(f"wrote {out} ({len(status.links)} tiles, AOI {status.state.value})")
    return 0


def _print_outcome(state: Any) -> int:
    from flows.outcome import summary_of

    summary = summary_of(state)
    if summary is not None and summary.rows:
        print(summary.table())
        print(summary.headline())
    else:  # a dry run, nothing to do, or a failure before the children: the state says it
        print(state.message or str(state.result(raise_on_failure=False)))
    return 0 if state.is_completed() else 1


def _confirmed(question: str, refused: str) -> bool:
    if not sys.stdin.isatty():
        print(f"{refused}: confirm with --yes (no terminal to ask)", file=sys.stderr)
        return False
    if input(f"{question} [y/N] ").strip().lower() not in ("y", "yes"):
        print(refused)
        return False
    return True


def cmd_retry(args: argparse.Namespace) -> int:
    from flows.prefect_api import ensure_prefect_api

    ensure_prefect_api()  # the runs of `ingest` without PREFECT_API_URL are in Prefect's own database

    from flows.retry import plan_item_retry, retry_aoi, run_ingest

    has_storage = bool(args.storage or args.aoi or args.force) or _has_default_storage()
    planned = (
        plan_item_retry(_storage_of(args), args.item, aoi=args.aoi, force=args.force) if has_storage else None
    )
    if planned is None:
        return _print_outcome(retry_aoi(args.aoi or args.item))
    selection, parameters = planned
    print(selection.describe())
    if args.force and not args.yes and not _confirmed("run these tiles again?", "nothing retried"):
        return 1
    return _print_outcome(run_ingest(parameters))


def _has_default_storage() -> bool:
    from common.settings import load_settings

    return bool(load_settings().storage_uri)


def cmd_fail(args: argparse.Namespace) -> int:
    from flows.retry import fail_item

    print(fail_item(_storage_of(args), args.tile, aoi=args.aoi).describe())
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from common.settings import load_settings
    from jobs.delete import apply_delete, plan_delete
    from jobs.resources import open_geocube

    storage = _storage_of(args)
    with open_geocube(load_settings()) as geocube:
        plan = plan_delete(geocube, storage, args.aoi)
        print(plan.describe())
        if plan.is_empty:
            return 0
        if not args.yes:
            if not sys.stdin.isatty():
                print("nothing deleted: confirm with --yes (no terminal to ask)", file=sys.stderr)
                return 1
            if input(f"delete all of this for AOI {args.aoi}? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing deleted")
                return 1
        report = apply_delete(geocube, storage, plan)
    print(report.describe())
    return 0 if report.complete else 1


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("geocube-ingester")
    except PackageNotFoundError:  # a source tree that was not installed
        return "unknown (not installed)"


def _document_options(parser: argparse.ArgumentParser) -> None:
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--scenes", help="ingest these scenes (interchange GeoJSON) instead of searching")
    given.add_argument(
        "--tiles", help="ingest these tiles with their previous/reference links (interchange GeoJSON)"
    )


def _follow_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", help="storage URI (default: GEOCUBE_INGESTER_STORAGE_URI)")
    parser.add_argument(
        "--no-prefect",
        action="store_true",
        help="read the AOI's ledger alone, not the runs in PREFECT_API_URL",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="geocube-ingester", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("validate", help="check a payload (and its layers when GEOCUBE_SERVER is set)")
    p.add_argument("payload", help="payload JSON file, or - for stdin")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser(
        "plan", help="search and plan without ingesting: scenes, tiles, previous/reference graph"
    )
    p.add_argument("payload")
    p.add_argument("--out", default=".", help="folder for scenes.json, tiles.json (and plan.png)")
    p.add_argument("--png", action="store_true", help="also draw the AOI, scenes and tiles in plan.png")
    p.add_argument(
        "--interchange-shape",
        choices=["current", "legacy"],
        default="current",
        help="current: the original since March 2025 (wkt, tags, tiles); legacy: older originals "
        "(GeometryWKT, Tags, Tiles)",
    )
    _document_options(p)
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("ingest", help="run the ingest flow on a payload")
    p.add_argument("payload")
    p.add_argument("--mode", choices=["local", "deployments"], default="local")
    p.add_argument("--dry-run", action="store_true", help="plan only: no records, no download")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a live bar of scenes and tiles with an ETA (default: when stderr is a terminal)",
    )
    for what in ("scenes", "tiles"):
        p.add_argument(
            f"--{what}-per-child",
            type=_at_least_one,
            default=1,
            metavar="N",
            help=f"{what} run one after another by one child run (default 1: a child each); each is still "
            "its own run. Pays the per-child start once per batch",
        )
    _document_options(p)
    p.set_defaults(func=cmd_ingest)
    p = sub.add_parser(
        "verify", help="read each indexed layer of an AOI back through GetCube and compare it with its file"
    )
    p.add_argument("aoi", help="the AOI name (the payload's name)")
    p.add_argument("--storage", help="storage URI (default: GEOCUBE_INGESTER_STORAGE_URI)")
    p.add_argument("--png", metavar="DIR", help="write one quicklook PNG per date, from the Geocube's answer")
    p.add_argument(
        "--rgb", default="B04,B03,B02", help="layers of a true-colour quicklook (default B04,B03,B02)"
    )
    p.set_defaults(func=cmd_verify)
    p = sub.add_parser("status", help="an AOI's scenes and tiles by state, across all its attempts")
    p.add_argument("aoi", help="the AOI name (the payload's name)")
    p.add_argument("--json", action="store_true", help="print JSON (counts, attempts, items, waits)")
    _follow_options(p)
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("graph", help="an AOI's tile graph (Graphviz), coloured by state, series grouped")
    p.add_argument("aoi", help="the AOI name (the payload's name)")
    p.add_argument("--format", choices=["dot", "svg", "png"], default="dot", help="svg and png need Graphviz")
    p.add_argument("-o", "--out", help="output file (default: dot to stdout, svg/png to ./<AOI>.<format>)")
    p.add_argument("--collapse-at", type=int, default=5, help="runs of this many DONE tiles become one node")
    _follow_options(p)
    p.set_defaults(func=cmd_graph)
    p = sub.add_parser(
        "retry", help="run an AOI's latest ingestion again, or a scene or tile and what it blocked"
    )
    p.add_argument(
        "item", metavar="AOI|SCENE|TILE", help="an AOI name, a scene's source id, a tile's key or TILE@DATE"
    )
    p.add_argument("--aoi", help="the AOI of the scene or tile (when several AOIs hold that name)")
    p.add_argument("--force", action="store_true", help="run done items again too (asks for confirmation)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--storage", help="storage URI (default: GEOCUBE_INGESTER_STORAGE_URI)")
    p.set_defaults(func=cmd_retry)
    p = sub.add_parser("fail", help="mark a tile FAILED: its dependants are re-linked around it")
    p.add_argument("tile", metavar="TILE", help="a tile's key (scene/tile) or TILE@DATE, as status shows it")
    p.add_argument("--aoi", help="the AOI of the tile (when several AOIs hold that name)")
    p.add_argument("--storage", help="storage URI (default: GEOCUBE_INGESTER_STORAGE_URI)")
    p.set_defaults(func=cmd_fail)
    p = sub.add_parser(
        "delete", help="delete an AOI's Geocube datasets, records and stored files, after a confirmation"
    )
    p.add_argument("aoi", help="the AOI name (the payload's name)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--storage", help="storage URI (default: GEOCUBE_INGESTER_STORAGE_URI)")
    p.set_defaults(func=cmd_delete)
    args = parser.parse_args(argv)
    install_redaction()
    from flows.prefect_api import prepare_environment

    prepare_environment()  # before anything imports prefect
    try:
        return int(args.func(args))
    except ValidationFailedError as exc:
        print(exc, file=sys.stderr)
        return 2
    except IngestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
