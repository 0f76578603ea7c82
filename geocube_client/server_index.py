"""IndexDatasets and GetContainers of the local Geocube.

As a real Geocube (v1.0.3, shared/docs/geocube-api.md), the server opens the file itself at indexing
time (here with rasterio), reads the dtype from it, and checks the request against the variable. As a
real Geocube, it opens absolute local paths, and ``s3://`` and ``gs://`` URIs through GDAL's ``/vsis3/``
and ``/vsigs/`` (``gdal_path``), configured by the server's environment (``AWS_S3_ENDPOINT``,
``AWS_VIRTUAL_HOSTING``, ``AWS_HTTPS``, ``AWS_ACCESS_KEY_ID``...; ``CPL_GS_ENDPOINT``, ``GS_*``);
``file://`` is refused.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass

import grpc
import rasterio
import rasterio.errors

from geocube_client.pb import geocube_pb2 as pb
from geocube_client.server_store import (
    LocalDatabase,
    check_dformat,
    check_uuid,
    dumps,
    fail,
    nan_to_null,
    new_id,
    not_found,
    null_to_nan,
)

RASTERIO_TO_DTYPE: dict[str, pb.DataFormat.Dtype] = {
    "uint8": pb.DataFormat.UInt8,
    "uint16": pb.DataFormat.UInt16,
    "uint32": pb.DataFormat.UInt32,
    "int8": pb.DataFormat.Int8,
    "int16": pb.DataFormat.Int16,
    "int32": pb.DataFormat.Int32,
    "float32": pb.DataFormat.Float32,
    "float64": pb.DataFormat.Float64,
    "complex64": pb.DataFormat.Complex64,
}


@dataclass(frozen=True)
class _FileInfo:
    band_count: int
    band_dtypes: tuple[str, ...]


# Object store URIs as GDAL opens them (its virtual file systems for S3 and Google Cloud Storage).
_VSI_PREFIXES = {"s3://": "/vsis3/", "gs://": "/vsigs/"}


def gdal_path(uri: str, subdir: str = "") -> str | None:
    """What GDAL opens for a container URI (``<subdir>:<path>`` when a subdir is given): an absolute
    path as it is, ``s3://b/k`` as ``/vsis3/b/k``, ``gs://b/k`` as ``/vsigs/b/k``; None for anything else
    (``file://``, a relative path), which a Geocube cannot open."""
    path = next((vsi + uri[len(s) :] for s, vsi in _VSI_PREFIXES.items() if uri.startswith(s)), None)
    if path is None and uri.startswith("/") and "://" not in uri:
        path = uri
    if path is None:
        return None
    return f"{subdir}:{path}" if subdir else path


def inspect_file(uri: str, subdir: str) -> _FileInfo:
    """Open the file as the Geocube would (``<subdir>:<uri>`` when a subdir is given)."""
    path = gdal_path(uri, subdir)
    if path is None:
        shown = f"{subdir}:{uri}" if subdir else uri
        fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{shown} cannot be opened: this Geocube reads absolute local paths, s3:// and gs:// (no file://)",
        )
    try:
        with rasterio.open(path) as src:
            return _FileInfo(src.count, tuple(src.dtypes))
    except rasterio.errors.RasterioIOError as exc:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{path} cannot be opened: {exc}")


def _check_request(d: pb.Dataset, where: str) -> None:
    check_uuid(d.record_id, "Record")
    check_uuid(d.instance_id, "Instance")
    if not d.bands:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: no band given")
    if not (d.exponent > 0 and math.isfinite(d.exponent)):
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: invalid exponent (must be strictly positive)")
    if not d.dformat.min_value < d.dformat.max_value:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: Invalid Dataset.DFormat: min must be < max")
    if not d.real_min_value < d.real_max_value:
        fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: real_min_value must be strictly lower than real_max_value",
        )


def _set_dtype_from_file(d: pb.Dataset, info: _FileInfo, uri: str, where: str) -> None:
    for band in d.bands:
        if not 1 <= band <= info.band_count:
            fail(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{where}: band {band} out of range: {uri} has {info.band_count} band(s)",
            )
    dtypes = {info.band_dtypes[band - 1] for band in d.bands}
    if len(dtypes) != 1:
        fail(
            grpc.StatusCode.INVALID_ARGUMENT, f"{where}: bands {list(d.bands)} have different dtypes {dtypes}"
        )
    file_dtype = dtypes.pop()
    if file_dtype not in RASTERIO_TO_DTYPE:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"{where}: data type {file_dtype} of {uri} is not supported")
    d.dformat.dtype = RASTERIO_TO_DTYPE[file_dtype]
    check_dformat(d.dformat, f"{where}: Invalid Dataset.DFormat")


def _check_against_variable(conn: sqlite3.Connection, d: pb.Dataset, where: str) -> None:
    variable = conn.execute(
        "SELECT v.* FROM variable v JOIN instance i ON i.variable_id = v.id WHERE i.id = ?", (d.instance_id,)
    ).fetchone()
    if variable is None:
        not_found("Variable Instance", "id", d.instance_id)
    if conn.execute("SELECT 1 FROM record WHERE id = ?", (d.record_id,)).fetchone() is None:
        not_found("Dataset", "record_id", d.record_id)  # the real one reports the foreign key
    n_bands = len(json.loads(variable["bands"]))
    if len(d.bands) != n_bands:
        fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: Wrong number of bands in dataset ({len(d.bands)} given, "
            f"variable {variable['name']} has {n_bands})",
        )
    if d.real_min_value >= variable["max_value"] or d.real_max_value <= variable["min_value"]:
        fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{where}: Range of external values of the dataset [{d.real_min_value},{d.real_max_value}] "
            "does not intersect the range of values of the variable "
            f"[{variable['min_value']},{variable['max_value']}]",
        )


def _mapping_key(d: pb.Dataset) -> tuple[object, ...]:
    df = d.dformat
    nodata = "NaN" if math.isnan(df.no_data) else df.no_data
    return (d.record_id, d.instance_id, d.container_subdir, list(d.bands), df.dtype, nodata, df.min_value,
            df.max_value, d.real_min_value, d.real_max_value, d.exponent)  # fmt: skip


def _dataset_from_row(row: sqlite3.Row) -> pb.Dataset:
    return pb.Dataset(
        record_id=row["record_id"],
        instance_id=row["instance_id"],
        container_subdir=row["subdir"],
        bands=json.loads(row["bands"]),
        dformat=pb.DataFormat(
            dtype=row["dtype"],
            no_data=null_to_nan(row["no_data"]),
            min_value=row["min_value"],
            max_value=row["max_value"],
        ),
        real_min_value=row["real_min"],
        real_max_value=row["real_max"],
        exponent=row["exponent"],
    )


def index_datasets(db: LocalDatabase, container: pb.Container) -> None:
    """Index the datasets of one container, all or nothing.

    An identical dataset already indexed is skipped (OK); another dataset on the same subdir/band gives
    ALREADY_EXISTS with ResourceInfo.resource_name ``"<subdir>/<band>"``. ``managed`` is kept from the
    first indexing of the container.
    """
    uri = container.uri
    if not uri:
        fail(grpc.StatusCode.INVALID_ARGUMENT, "container.uri: empty")
    if not container.datasets:
        fail(grpc.StatusCode.INVALID_ARGUMENT, f"container {uri}: no dataset given")
    datasets = [pb.Dataset() for _ in container.datasets]
    files: dict[str, _FileInfo] = {}
    for d, given in zip(datasets, container.datasets, strict=True):
        d.CopyFrom(given)
        where = f"Dataset with record_id={d.record_id} and instance_id={d.instance_id}"
        _check_request(d, where)
        if d.container_subdir not in files:
            files[d.container_subdir] = inspect_file(uri, d.container_subdir)
        _set_dtype_from_file(d, files[d.container_subdir], uri, where)

    with db.transaction() as conn:
        known = conn.execute("SELECT managed FROM container WHERE uri = ?", (uri,)).fetchone()
        existing = [
            _dataset_from_row(r)
            for r in conn.execute("SELECT * FROM dataset WHERE container_uri = ? ORDER BY rowid", (uri,))
        ]
        to_insert = []
        for d in datasets:
            where = f"Dataset with record_id={d.record_id} and instance_id={d.instance_id}"
            _check_against_variable(conn, d, where)
            if any(_mapping_key(e) == _mapping_key(d) for e in existing):
                continue  # identical re-index: OK, nothing changes
            for e in existing:
                shared = sorted(set(e.bands) & set(d.bands))
                if e.container_subdir == d.container_subdir and shared:
                    same_owner = (e.record_id, e.instance_id) == (d.record_id, d.instance_id)
                    what = (
                        "A dataset with another datamapping"
                        if same_owner
                        else f"A different dataset (record {e.record_id}, instance {e.instance_id})"
                    )
                    fail(
                        grpc.StatusCode.ALREADY_EXISTS,
                        f"{what} already refers to the container {uri}, the subdir '{d.container_subdir}' "
                        f"and one of the bands among: {'-'.join(str(b) for b in shared)}",
                        resource_name=f"{d.container_subdir}/{shared[0]}",
                        resource_type="dataset",
                    )
            existing.append(d)
            to_insert.append(d)
        if known is None:
            conn.execute("INSERT INTO container VALUES (?, ?)", (uri, int(container.managed)))
        for d in to_insert:
            df = d.dformat
            conn.execute(
                "INSERT INTO dataset VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (new_id(), uri, d.record_id, d.instance_id, d.container_subdir, dumps(list(d.bands)),
                 df.dtype, nan_to_null(df.no_data), df.min_value, df.max_value, d.real_min_value,
                 d.real_max_value, d.exponent),
            )  # fmt: skip


def get_containers(db: LocalDatabase, uris: list[str]) -> list[pb.Container]:
    """Containers in request order; one unknown URI (compared literally) makes the whole call NOT_FOUND."""
    containers = []
    with db.transaction() as conn:
        for uri in uris:
            row = conn.execute("SELECT managed FROM container WHERE uri = ?", (uri,)).fetchone()
            if row is None:
                not_found("Container", "uri", uri)
            rows = conn.execute("SELECT * FROM dataset WHERE container_uri = ? ORDER BY rowid", (uri,))
            containers.append(
                pb.Container(
                    uri=uri, managed=bool(row["managed"]), datasets=[_dataset_from_row(r) for r in rows]
                )
            )
    return containers


def delete_datasets(
    db: LocalDatabase, record_ids: list[str], instance_ids: list[str], *, simulate: bool
) -> list[str]:
    """Admin.DeleteDatasets as upstream's first form does it (internal/svc/admin.go): every dataset of
    the records x instances, an empty list being no filter (so both empty is every dataset), one line
    per dataset, deleted in one transaction unless ``simulate``. Containers stay, even empty, and no file
    is touched. Unknown ids match nothing (OK, no line); a malformed id is INVALID_ARGUMENT, as for the
    Geocube's other calls."""
    for value in (*record_ids, *instance_ids):
        check_uuid(value)
    records, instances = set(record_ids), set(instance_ids)
    with db.transaction() as conn:
        rows = [
            r
            for r in conn.execute("SELECT * FROM dataset ORDER BY rowid")
            if (not records or r["record_id"] in records) and (not instances or r["instance_id"] in instances)
        ]
        lines = [
            f"{gdal_path(r['container_uri'], r['subdir']) or r['container_uri']}"
            f"[[{' '.join(str(b) for b in json.loads(r['bands']))}]] {r['id']} "
            f"(record:{r['record_id']}, instance:{r['instance_id']})"
            for r in rows
        ]
        if not simulate:
            conn.executemany("DELETE FROM dataset WHERE id = ?", [(r["id"],) for r in rows])
    return lines
