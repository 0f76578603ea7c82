"""SQLite storage of the local Geocube, and its rules for AOIs, records and variables.

The rules are those a real Geocube v1.0.3 showed (shared/docs/geocube-api.md, "Server behaviour"):
error codes, uniqueness and filters. Functions take and return protobuf messages; they raise
``LocalGeocubeStatusError``, which the servicer turns into a gRPC status. One connection, one lock:
every transaction is serialised, which is plenty for a test or demo server.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn, TypeVar

import grpc
import shapely
from google.protobuf.timestamp_pb2 import Timestamp

from geocube_client.errors import LocalGeocubeStatusError
from geocube_client.geometry import polygons_to_shape, polygons_to_wkt
from geocube_client.pb import geocube_pb2 as pb

SCHEMA = """
CREATE TABLE IF NOT EXISTS aoi (id TEXT PRIMARY KEY, coords TEXT NOT NULL UNIQUE, wkt TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS record (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, time_us INTEGER NOT NULL, tags TEXT NOT NULL,
    aoi_id TEXT NOT NULL REFERENCES aoi(id), UNIQUE (name, tags, time_us));
CREATE TABLE IF NOT EXISTS variable (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, unit TEXT NOT NULL, description TEXT NOT NULL,
    dtype INTEGER NOT NULL, no_data REAL, min_value REAL NOT NULL, max_value REAL NOT NULL,
    bands TEXT NOT NULL, palette TEXT NOT NULL, resampling INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS instance (
    id TEXT PRIMARY KEY, variable_id TEXT NOT NULL REFERENCES variable(id), name TEXT NOT NULL,
    metadata TEXT NOT NULL, UNIQUE (variable_id, name));
CREATE TABLE IF NOT EXISTS container (uri TEXT PRIMARY KEY, managed INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dataset (
    id TEXT PRIMARY KEY, container_uri TEXT NOT NULL REFERENCES container(uri),
    record_id TEXT NOT NULL REFERENCES record(id), instance_id TEXT NOT NULL REFERENCES instance(id),
    subdir TEXT NOT NULL, bands TEXT NOT NULL, dtype INTEGER NOT NULL, no_data REAL,
    min_value REAL NOT NULL, max_value REAL NOT NULL, real_min REAL NOT NULL, real_max REAL NOT NULL,
    exponent REAL NOT NULL);
CREATE INDEX IF NOT EXISTS dataset_record ON dataset(record_id);
CREATE INDEX IF NOT EXISTS dataset_container ON dataset(container_uri);
"""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Bounds of each DataFormat.Dtype, as the server's DataFormat.validate checks min, max and nodata.
_F32_MAX = 3.4028234663852886e38
DTYPE_BOUNDS: dict[int, tuple[float, float]] = {
    pb.DataFormat.UInt8: (0, 255),
    pb.DataFormat.UInt16: (0, 65535),
    pb.DataFormat.UInt32: (0, 2**32 - 1),
    pb.DataFormat.Int8: (-128, 127),
    pb.DataFormat.Int16: (-(2**15), 2**15 - 1),
    pb.DataFormat.Int32: (-(2**31), 2**31 - 1),
    pb.DataFormat.Float32: (-_F32_MAX, _F32_MAX),
    pb.DataFormat.Float64: (-math.inf, math.inf),
    pb.DataFormat.Complex64: (-_F32_MAX, _F32_MAX),
}


T = TypeVar("T")


def fail(
    code: grpc.StatusCode,
    message: str,
    *,
    resource_name: str = "",
    resource_type: str = "",
    owner: str = "",
) -> NoReturn:
    raise LocalGeocubeStatusError(
        code, message, resource_name=resource_name, resource_type=resource_type, owner=owner
    )


def not_found(entity: str, key: str, value: str) -> NoReturn:
    """NOT_FOUND as a real Geocube says it: "<Entity> with <key>: <value>", ResourceInfo(entity, value)."""
    fail(
        grpc.StatusCode.NOT_FOUND, f"{entity} with {key}: {value}", resource_name=value, resource_type=entity
    )


def uuid_problem(value: str) -> str | None:
    """The google/uuid parse error a real Geocube quotes ("invalid UUID length: 3"), or None if valid."""
    if len(value) not in (32, 36, 38, 41, 45):
        return f"invalid UUID length: {len(value)}"
    try:
        uuid.UUID(value)
    except ValueError:
        return "invalid UUID format"
    return None


def check_uuid(value: str, what: str = "") -> None:
    """INVALID_ARGUMENT "Invalid uuid: ..." (or "Invalid <what>.uuid <id>: ...") for a malformed id."""
    problem = uuid_problem(value)
    if problem is not None:
        text = f"Invalid {what}.uuid {value}: {problem}" if what else f"Invalid uuid: {problem}"
        fail(grpc.StatusCode.INVALID_ARGUMENT, text)


_URN = re.compile(r"^[a-zA-Z0-9\-:_]+(/[a-zA-Z0-9\-:_]+)*$")  # variable names (upstream urn.go)
_NAME = re.compile(r"^[a-zA-Z0-9\-:_]+$")  # instance names


def check_variable_name(name: str) -> None:
    if not _URN.match(name):
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"Incorrect name: {name}")


def check_instance_name(name: str) -> None:
    if not _NAME.match(name):
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid Name: {name}")


class LocalDatabase:
    """A SQLite file (or ``":memory:"``) behind a lock, with the local Geocube's schema."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = str(db_path)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA busy_timeout = 5000")
            self._conn.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One serialised transaction; any exception rolls it back. SQLite errors become statuses."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _status_from_sqlite(exc) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._conn.execute("ROLLBACK")
                raise _status_from_sqlite(exc) from exc
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _status_from_sqlite(exc: sqlite3.Error) -> LocalGeocubeStatusError:
    # A real Geocube reports internal (database) errors as UNKNOWN, and lock/busy ones as temporary.
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return LocalGeocubeStatusError(grpc.StatusCode.UNAVAILABLE, f"database: {exc}")
    return LocalGeocubeStatusError(grpc.StatusCode.UNKNOWN, f"database: {exc}")


# ---------------------------------------------------------------- helpers


def new_id() -> str:
    return str(uuid.uuid4())


def dumps(value: object) -> str:
    """Canonical JSON: the same mapping always gives the same text (used for uniqueness)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def nan_to_null(value: float) -> float | None:
    return None if math.isnan(value) else value  # SQLite stores NaN as NULL anyway


def null_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def timestamp_to_us(ts: Timestamp) -> int:
    """Microseconds since the epoch: the Geocube rounds record times to microseconds."""
    return int(ts.seconds) * 1_000_000 + round(int(ts.nanos) / 1000)


def us_to_timestamp(micros: int) -> dict[str, int]:
    seconds, rest = divmod(micros, 1_000_000)
    return {"seconds": seconds, "nanos": rest * 1000}


def us_to_text(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


def compile_pattern(value: str) -> Callable[[str], bool]:
    """The Geocube's filter: ``*`` and ``?`` make a LIKE pattern, a trailing ``(?i)`` makes it ILIKE."""
    insensitive = value.endswith("(?i)")
    if insensitive:
        value = value.removesuffix("(?i)")
    elif "*" not in value and "?" not in value:
        return lambda text: text == value
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    compiled = re.compile(regex, re.DOTALL | (re.IGNORECASE if insensitive else 0))
    return lambda text: compiled.fullmatch(text) is not None


def tags_match(filters: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """A tag value ``""`` means "the key exists"; other values are compared by ``compile_pattern``."""
    for key, wanted in filters.items():
        if key not in tags:
            return False
        if wanted and not compile_pattern(wanted)(tags[key]):
            return False
    return True


def check_dformat(dformat: pb.DataFormat, where: str) -> None:
    """The server's DataFormat.validate: min < max, both (and nodata unless NaN) within the dtype."""
    lowest, highest = DTYPE_BOUNDS[dformat.dtype]
    dtype = pb.DataFormat.Dtype.Name(dformat.dtype)
    if not (lowest <= dformat.min_value and dformat.max_value <= highest):
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: min/max value are out of bounds of {dtype}")
    if not dformat.min_value < dformat.max_value:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: min must be strictly lower than max")
    if not math.isnan(dformat.no_data) and not lowest <= dformat.no_data <= highest:
        fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: noData value ({dformat.no_data}) is not supported by the data type ({dtype}). "
            "If nodata is not defined, set it to NaN",
        )


# ---------------------------------------------------------------- AOIs


def aoi_to_points(aoi: pb.AOI) -> list[list[list[tuple[float, float]]]]:
    """Rings as received; an unclosed ring is UNKNOWN, as PostGIS errors are on a real Geocube."""
    polygons = [[[(c.lon, c.lat) for c in ring.points] for ring in p.linearrings] for p in aoi.polygons]
    if not polygons or any(not rings for rings in polygons):
        fail(grpc.StatusCode.INVALID_ARGUMENT, "aoi: at least one polygon with one ring is needed")
    for rings in polygons:
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                fail(grpc.StatusCode.UNKNOWN, "pq: geometry contains non-closed rings")
    return polygons


def create_aoi(db: LocalDatabase, aoi: pb.AOI) -> str:
    """A new AOI id; ALREADY_EXISTS (with the id in ResourceInfo) for the same coordinate sequence."""
    points = aoi_to_points(aoi)
    coords = dumps(points)
    with db.transaction() as conn:
        row = conn.execute("SELECT id FROM aoi WHERE coords = ?", (coords,)).fetchone()
        if row is not None:
            fail(
                grpc.StatusCode.ALREADY_EXISTS,
                f"AOI with id: {row['id']}",
                resource_name=row["id"],
                resource_type="AOI",
            )
        aoi_id = new_id()
        conn.execute("INSERT INTO aoi VALUES (?, ?, ?)", (aoi_id, coords, polygons_to_wkt(points)))
    return aoi_id


# ---------------------------------------------------------------- records


def create_records(db: LocalDatabase, records: Sequence[pb.NewRecord]) -> list[str]:
    """All records or none; unique on (name, tags, time)."""
    rows = []
    for i, r in enumerate(records):
        if not r.name:
            fail(grpc.StatusCode.INVALID_ARGUMENT, f"records[{i}].name: empty")
        check_uuid(r.aoi_id, "AOI")
        rows.append((new_id(), r.name, timestamp_to_us(r.time), dumps(dict(r.tags)), r.aoi_id))
    with db.transaction() as conn:
        seen: set[tuple[str, int, str]] = set()
        for _, name, time_us, tags, aoi_id in rows:
            duplicate = (name, time_us, tags) in seen or conn.execute(
                "SELECT 1 FROM record WHERE name = ? AND time_us = ? AND tags = ?", (name, time_us, tags)
            ).fetchone()
            if duplicate:
                _record_exists(name, tags, time_us)
            seen.add((name, time_us, tags))
            if conn.execute("SELECT 1 FROM aoi WHERE id = ?", (aoi_id,)).fetchone() is None:
                not_found("AOI", "id", aoi_id)
        conn.executemany("INSERT INTO record VALUES (?, ?, ?, ?, ?)", rows)
    return [row[0] for row in rows]


def _record_exists(name: str, tags_json: str, time_us: int) -> NoReturn:
    """ALREADY_EXISTS as a real Geocube says it: the unique key (name, tags, datetime) as PostgreSQL
    prints it, with an empty key name ("Record with : ...")."""
    tags = ", ".join(f'"{k}"=>"{v}"' for k, v in sorted(json.loads(tags_json).items()))
    when = (_EPOCH + timedelta(microseconds=time_us)).strftime("%Y-%m-%d %H:%M:%S.%f").removesuffix(".000000")
    value = f"{name}, {tags}, {when}+00"  # a timestamptz as PostgreSQL prints it
    fail(
        grpc.StatusCode.ALREADY_EXISTS, f"Record with : {value}", resource_name=value, resource_type="Record"
    )


def list_records(db: LocalDatabase, request: pb.ListRecordsRequest) -> list[pb.Record]:
    """from_time ≤ time ≤ to_time, AOI intersects, tags and name match; by time, then paged."""
    sql = "SELECT r.*, a.coords, a.wkt FROM record r JOIN aoi a ON a.id = r.aoi_id WHERE 1=1"
    params: list[int] = []
    if request.HasField("from_time"):  # unset = no bound
        sql, params = sql + " AND r.time_us >= ?", [*params, timestamp_to_us(request.from_time)]
    if request.HasField("to_time"):
        sql, params = sql + " AND r.time_us <= ?", [*params, timestamp_to_us(request.to_time)]
    area = polygons_to_shape(aoi_to_points(request.aoi)) if request.aoi.polygons else None
    name_matches = compile_pattern(request.name) if request.name else None
    with db.transaction() as conn:
        rows = conn.execute(sql + " ORDER BY r.time_us, r.rowid", params).fetchall()
    found = []
    for row in rows:
        tags = json.loads(row["tags"])
        if name_matches and not name_matches(row["name"]):
            continue
        if not tags_match(request.tags, tags):
            continue
        if area is not None and not area.intersects(shapely.from_wkt(row["wkt"])):
            continue
        record = _record_from_row(row, tags)
        if request.with_aoi:
            for rings in json.loads(row["coords"]):
                polygon = record.aoi.polygons.add()
                for ring in rings:
                    polygon.linearrings.add().points.extend(pb.Coord(lon=x, lat=y) for x, y in ring)
        found.append(record)
    return paginate(found, request.limit, request.page)


def _record_from_row(row: sqlite3.Row, tags: dict[str, str]) -> pb.Record:
    return pb.Record(
        id=row["id"], name=row["name"], tags=tags, aoi_id=row["aoi_id"], time=us_to_timestamp(row["time_us"])
    )


def records_by_id(db: LocalDatabase, ids: Sequence[str]) -> dict[str, pb.Record]:
    """The records of ``ids`` that exist, by id (unknown ids are left out)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    with db.transaction() as conn:
        rows = conn.execute(f"SELECT * FROM record WHERE id IN ({marks})", wanted).fetchall()  # noqa: S608
    return {row["id"]: _record_from_row(row, json.loads(row["tags"])) for row in rows}


def paginate(items: list[T], limit: int, page: int) -> list[T]:
    """``limit`` items of page ``page`` (pages start at 0); ``limit`` ≤ 0 means all."""
    if limit <= 0:
        return items
    return items[max(page, 0) * limit : (max(page, 0) + 1) * limit]


def add_records_tags(db: LocalDatabase, ids: Sequence[str], tags: Mapping[str, str]) -> int:
    """Merge ``tags`` into the records (unknown ids are ignored); the number of records updated."""
    count = 0
    with db.transaction() as conn:
        for record_id in ids:
            row = conn.execute("SELECT * FROM record WHERE id = ?", (record_id,)).fetchone()
            if row is None:
                continue
            merged = dumps({**json.loads(row["tags"]), **tags})
            clash = conn.execute(
                "SELECT 1 FROM record WHERE name = ? AND time_us = ? AND tags = ? AND id != ?",
                (row["name"], row["time_us"], merged, record_id),
            ).fetchone()
            if clash:
                _record_exists(row["name"], merged, row["time_us"])
            conn.execute("UPDATE record SET tags = ? WHERE id = ?", (merged, record_id))
            count += 1
    return count


def delete_records(db: LocalDatabase, ids: Sequence[str], no_fail: bool) -> int:
    """Delete records without datasets; one with datasets fails the whole batch unless ``no_fail``."""
    count = 0
    with db.transaction() as conn:
        for record_id in dict.fromkeys(ids):
            if conn.execute("SELECT 1 FROM dataset WHERE record_id = ? LIMIT 1", (record_id,)).fetchone():
                if no_fail:
                    continue
                fail(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"records and datasets with id: {record_id}",
                    resource_name=record_id,
                    resource_type="datasets",
                    owner="records",
                )
            count += conn.execute("DELETE FROM record WHERE id = ?", (record_id,)).rowcount
    return count
