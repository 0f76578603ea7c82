"""GetCube of the local Geocube: layers read back as a real Geocube (v1.0.3) serves them.

As upstream (``internal/image/image.go`` MergeDatasets, shared/docs/geocube-api.md "Reading layers back"):

- the records come from ``records`` (one image per record), ``grouped_records`` (one image per group) or
  ``filters`` (tags and time; one image per record), for one instance;
- the datasets of an image are opened (the container URI, ``<subdir>:<uri>`` when there is one), their
  bands warped onto the requested grid (crs, ``pix_to_crs``, size) with the requested resampling (the
  variable's when UNDEFINED), the file's nodata staying nodata, then mapped to real values and cast into
  the *variable's* format (``geocube_client.mapping.cube_values``: GDAL's rounding, the variable's nodata);
- the datasets of an image are painted in the order of its records (a group's order, as given), a later
  one covering an earlier one where it has data;
- an image whose first band has no valid pixel (a variable nodata that is not NaN) is sent as a header
  whose ``error`` is ``rpc error: code = NotFound desc = Not enough valid pixels (skipped)``, the text
  upstream's Python client turns into NOT_FOUND; a cube with no dataset has no image (count 0);
- the answer streams a global header, then per image a header (holding part 0 of the bytes) and chunks
  of 512 KiB; bytes are little-endian, pixel-interleaved (height x width x bands; ``shape`` is dim1 =
  bands, dim2 = width, dim3 = height), deflated (raw RFC 1951) unless ``compression_level`` is -3.
  ``size`` and ``nb_parts`` count the uncompressed bytes, as upstream: a compressed image is padded with
  empty chunks up to ``nb_parts`` - 1, or, with ``protocol_v11x``, ends at the first empty chunk.
"""

from __future__ import annotations

import json
import math
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import numpy as np
import rasterio
import rasterio.errors
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling as RioResampling
from rasterio.io import MemoryFile
from rasterio.warp import reproject

from common.dataformat import DataFormat
from geocube_client import convert
from geocube_client.mapping import DataMapping, cube_values, is_nodata
from geocube_client.models import DTYPE_TO_PROTO_NAME
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.server_index import gdal_path
from geocube_client.server_store import (
    LocalDatabase,
    check_uuid,
    fail,
    list_records,
    not_found,
    null_to_nan,
    records_by_id,
)

CHUNK_BYTES = 512 * 1024  # upstream's chunk size
NOT_ENOUGH_VALID_PIXELS = "rpc error: code = NotFound desc = Not enough valid pixels (skipped)"
_RESAMPLING: dict[int, RioResampling] = {
    pb.NEAR: RioResampling.nearest,
    pb.BILINEAR: RioResampling.bilinear,
    pb.CUBIC: RioResampling.cubic,
    pb.CUBICSPLINE: RioResampling.cubic_spline,
    pb.LANCZOS: RioResampling.lanczos,
    pb.AVERAGE: RioResampling.average,
    pb.MODE: RioResampling.mode,
    pb.MAX: RioResampling.max,
    pb.MIN: RioResampling.min,
    pb.MED: RioResampling.med,
    pb.Q1: RioResampling.q1,
    pb.Q3: RioResampling.q3,
}


@dataclass(frozen=True)
class _Grid:
    crs: CRS
    transform: Affine
    width: int
    height: int


@dataclass(frozen=True)
class _Variable:
    dformat: DataFormat
    resampling: int
    band_count: int


@dataclass
class _Image:
    records: list[pb.Record]
    array: np.ndarray | None  # height x width x bands, in the variable's dtype
    error: str = ""


def _dformat(row: sqlite3.Row) -> DataFormat:
    """The data format of a variable or dataset row (both tables store dtype, nodata, min, max)."""
    message = pb.DataFormat(
        dtype=row["dtype"], no_data=null_to_nan(row["no_data"]), min_value=row["min_value"],
        max_value=row["max_value"],
    )  # fmt: skip
    return convert.dformat_from_pb(message, where="local Geocube")


def _grid(request: pb.GetCubeRequest) -> _Grid:
    width, height = request.size.width, request.size.height
    if width <= 0 or height <= 0:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"size: {width}x{height}: width and height must be > 0")
    try:
        crs = CRS.from_user_input(request.crs)
    except rasterio.errors.CRSError as exc:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"crs: {request.crs[:80]!r} is not a valid CRS: {exc}")
    t = request.pix_to_crs
    transform = Affine(t.b, t.c, t.a, t.e, t.f, t.d)
    if transform.determinant == 0:
        fail(grpc.StatusCode.INVALID_ARGUMENT, "pix_to_crs: the geotransform is not invertible")
    return _Grid(crs, transform, width, height)


def _variable(conn: sqlite3.Connection, instances: list[str]) -> _Variable:
    if len(instances) != 1:
        fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"instances_id: {len(instances)} given; exactly one is supported",
        )
    instance_id = instances[0]
    check_uuid(instance_id, "Instance")
    row = conn.execute(
        "SELECT v.* FROM variable v JOIN instance i ON i.variable_id = v.id WHERE i.id = ?", (instance_id,)
    ).fetchone()
    if row is None:
        not_found("Variable Instance", "id", instance_id)
    return _Variable(_dformat(row), int(row["resampling"]), len(json.loads(row["bands"])))


def _record_groups(db: LocalDatabase, request: pb.GetCubeRequest) -> list[list[pb.Record]]:
    which = request.WhichOneof("records_lister")
    if which is None:
        fail(grpc.StatusCode.INVALID_ARGUMENT, "records_lister: give records, grouped_records or filters")
    if which == "filters":
        listing = pb.ListRecordsRequest(tags=dict(request.filters.tags))
        if request.filters.HasField("from_time"):
            listing.from_time.CopyFrom(request.filters.from_time)
        if request.filters.HasField("to_time"):
            listing.to_time.CopyFrom(request.filters.to_time)
        return [[record] for record in list_records(db, listing)]
    groups = (
        [list(request.records.ids)]
        if which == "records"
        else [list(g.ids) for g in request.grouped_records.records]
    )
    wanted = sorted({i for group in groups for i in group})
    for record_id in wanted:
        check_uuid(record_id, "Record")
    known = records_by_id(db, wanted)
    if which == "records":
        return [[known[i]] for i in groups[0] if i in known]
    return [[known[i] for i in group if i in known] for group in groups if any(i in known for i in group)]


def _datasets(conn: sqlite3.Connection, records: list[pb.Record], instance_id: str) -> list[sqlite3.Row]:
    """The datasets of these records for the instance, in the records' order (later ones cover them)."""
    order = {r.id: position for position, r in enumerate(records)}
    marks = ",".join("?" * len(order))
    rows = conn.execute(
        f"SELECT * FROM dataset WHERE instance_id = ? AND record_id IN ({marks}) ORDER BY rowid",  # noqa: S608
        (instance_id, *order),
    ).fetchall()
    return sorted(rows, key=lambda r: order[r["record_id"]])


def _warp(row: sqlite3.Row, grid: _Grid, resampling: RioResampling) -> np.ndarray:
    """The dataset's bands on the grid, in its file dtype, its nodata where it has no data."""
    uri = row["container_uri"]
    path = gdal_path(uri, row["subdir"] or "") or uri  # indexed, so openable: s3:// and gs:// via /vsi
    bands = json.loads(row["bands"])
    nodata = null_to_nan(row["no_data"])
    with rasterio.open(path) as src:
        dtype = src.dtypes[bands[0] - 1]
        # NaN nodata on integers means "no nodata": nothing is masked, uncovered pixels are 0.
        has_nodata = not (math.isnan(nodata) and np.dtype(dtype).kind in "iu")
        fill = nodata if has_nodata else 0
        out = np.full((len(bands), grid.height, grid.width), fill, dtype=dtype)
        for k, band in enumerate(bands):
            reproject(
                source=rasterio.band(src, band),
                destination=out[k],
                src_nodata=nodata if has_nodata else None,
                dst_nodata=fill,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                resampling=resampling,
            )
    return out


def _image(
    conn: sqlite3.Connection, records: list[pb.Record], instance_id: str, variable: _Variable, grid: _Grid,
    resampling: RioResampling,
) -> tuple[_Image, int]:  # fmt: skip
    rows = _datasets(conn, records, instance_id)
    out = np.full((variable.band_count, grid.height, grid.width), variable.dformat.no_data)
    out = out.astype(variable.dformat.dtype)
    for row in rows:
        mapping = DataMapping(_dformat(row), row["real_min"], row["real_max"], row["exponent"])
        try:
            warped = _warp(row, grid, resampling)
        except rasterio.errors.RasterioIOError as exc:
            return _Image(records, None, f"{row['container_uri']} cannot be read: {exc}"), len(rows)
        covered = ~is_nodata(warped, mapping.dformat.no_data)
        cast = cube_values(warped, mapping, variable.dformat)
        out = np.where(covered, cast, out)
    nodata = variable.dformat.no_data
    if not math.isnan(nodata) and not (out[0] != nodata).any():
        return _Image(records, None, NOT_ENOUGH_VALID_PIXELS), len(rows)
    return _Image(records, np.moveaxis(out, 0, -1)), len(rows)


def _payload(image: _Image, grid: _Grid, variable: _Variable, file_format: int) -> bytes:
    assert image.array is not None
    if file_format == pb.GTiff:
        with MemoryFile() as memfile:
            nodata = variable.dformat.no_data
            with memfile.open(
                driver="GTiff", width=grid.width, height=grid.height, count=image.array.shape[2],
                dtype=image.array.dtype, crs=grid.crs, transform=grid.transform,
                nodata=None if math.isnan(nodata) and image.array.dtype.kind in "iu" else nodata,
            ) as dst:  # fmt: skip
                dst.write(np.moveaxis(image.array, -1, 0))
            return bytes(memfile.read())
    return image.array.astype(image.array.dtype.newbyteorder("<")).tobytes()


def _compress(data: bytes, level: int) -> tuple[bytes, bool]:
    if level <= -3:
        return data, False
    strategy = zlib.Z_HUFFMAN_ONLY if level == -2 else zlib.Z_DEFAULT_STRATEGY
    deflate = zlib.compressobj(max(level, -1), zlib.DEFLATED, -15, 8, strategy)  # raw deflate, RFC 1951
    return deflate.compress(data) + deflate.flush(), True


def _messages(
    image: _Image, grid: _Grid, variable: _Variable, request: pb.GetCubeRequest
) -> Iterator[pb.GetCubeResponse]:
    header = pb.ImageHeader(
        dtype=pb.DataFormat.Dtype.Value(DTYPE_TO_PROTO_NAME[variable.dformat.dtype]),
        shape=pb.Shape(dim1=variable.band_count, dim2=grid.width, dim3=grid.height),
        order=pb.LittleEndian,
        grouped_records=pb.GroupedRecords(records=image.records),
        error=image.error,
    )
    if image.array is None:
        yield pb.GetCubeResponse(header=header)
        return
    raw = _payload(image, grid, variable, request.format)
    data, compressed = _compress(raw, request.compression_level)
    nb_parts = max(1, math.ceil(len(raw) / CHUNK_BYTES))
    header.size, header.nb_parts, header.compression = len(raw), nb_parts, compressed
    if request.headers_only:
        yield pb.GetCubeResponse(header=header)
        return
    parts = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]
    header.data = parts[0]
    yield pb.GetCubeResponse(header=header)
    for index in range(1, nb_parts):
        part = parts[index] if index < len(parts) else b""
        yield pb.GetCubeResponse(chunk=pb.ImageChunk(part=index, data=part))
        if not part and request.protocol_v11x:
            return


def get_cube(db: LocalDatabase, request: pb.GetCubeRequest) -> list[pb.GetCubeResponse]:
    """The whole answer, made before streaming so that a failure is a status, not a cut stream."""
    grid = _grid(request)
    groups = _record_groups(db, request)
    with db.transaction() as conn:
        variable = _variable(conn, list(request.instances_id))
        resampling = _RESAMPLING.get(request.resampling_alg or variable.resampling, RioResampling.nearest)
        made = [
            _image(conn, records, request.instances_id[0], variable, grid, resampling) for records in groups
        ]
    images = [image for image, count in made if count]
    t = grid.transform
    answer = [
        pb.GetCubeResponse(
            global_header=pb.GetCubeResponseHeader(
                count=len(images),
                nb_datasets=sum(count for _, count in made),
                ref_dformat=convert.dformat_to_pb(variable.dformat),
                resampling_alg=request.resampling_alg or variable.resampling,  # type: ignore[arg-type]
                geotransform=pb.GeoTransform(a=t.c, b=t.a, c=t.b, d=t.f, e=t.d, f=t.e),
                crs=request.crs,
            )
        )
    ]
    for image in images:
        answer.extend(_messages(image, grid, variable, request))
    return answer
