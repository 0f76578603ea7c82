"""Regenerate the committed Python stubs in ``geocube_client/pb`` from ``proto/geocube.proto``.

Usage::

    python -m geocube_client.generate          # rewrite geocube_client/pb/geocube_pb2*.py{,i}
    python -m geocube_client.generate --check  # exit 1 if the committed stubs are stale

It runs the protoc bundled with grpcio-tools (a test dependency), so the stubs match the pinned grpcio.
protoc writes ``import geocube_pb2`` in the gRPC module, which only works with ``pb/`` on ``sys.path``;
we rewrite it to a relative import so that ``geocube_client.pb`` is a normal package.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from geocube_client.errors import StubGenerationError

logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO_DIR = PACKAGE_DIR / "proto"
PB_DIR = PACKAGE_DIR / "pb"
PROTO_NAME = "geocube.proto"
GENERATED_NAMES = ("geocube_pb2.py", "geocube_pb2.pyi", "geocube_pb2_grpc.py")

_ABSOLUTE_IMPORT = "import geocube_pb2 as geocube__pb2"
_RELATIVE_IMPORT = "from . import geocube_pb2 as geocube__pb2"


def generate_stubs(out_dir: Path) -> list[Path]:
    """Run protoc on ``geocube.proto`` and write the three stub files into ``out_dir``.

    Raises:
        StubGenerationError: grpcio-tools is missing, protoc failed, or the import fix did not apply.
    """
    try:
        from grpc_tools import protoc  # test dependency, not needed at run time
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise StubGenerationError(
            "grpcio-tools is not installed: pip install 'grpcio-tools==1.85.1'"
        ) from exc

    include_dir = Path(protoc.__file__).resolve().parent / "_proto"  # google/protobuf/*.proto
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include_dir}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_DIR / PROTO_NAME),
    ]
    status = protoc.main(args)
    if status != 0:
        raise StubGenerationError(f"protoc exited with status {status} for {PROTO_DIR / PROTO_NAME}")

    grpc_module = out_dir / "geocube_pb2_grpc.py"
    text = grpc_module.read_text(encoding="utf-8")
    if _ABSOLUTE_IMPORT not in text:
        raise StubGenerationError(
            f"{grpc_module}: expected the line {_ABSOLUTE_IMPORT!r} to rewrite; did grpcio-tools change?"
        )
    grpc_module.write_text(text.replace(_ABSOLUTE_IMPORT, _RELATIVE_IMPORT), encoding="utf-8")
    return [out_dir / name for name in GENERATED_NAMES]


def find_stale_stubs(pb_dir: Path = PB_DIR) -> list[str]:
    """Names of the committed stubs that differ from a fresh generation (empty when up to date)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate_stubs(Path(tmp))
        stale = []
        for path in fresh:
            committed = pb_dir / path.name
            if not committed.exists() or committed.read_bytes() != path.read_bytes():
                stale.append(path.name)
        return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m geocube_client.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="only check that the committed stubs are fresh")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.check:
        stale = find_stale_stubs()
        if stale:
            logger.error(
                "stale stubs in %s: %s; run: python -m geocube_client.generate", PB_DIR, ", ".join(stale)
            )
            return 1
        logger.info("stubs in %s are up to date", PB_DIR)
        return 0
    for path in generate_stubs(PB_DIR):
        logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
