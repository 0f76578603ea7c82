"""A synchronous client of the Geocube gRPC API (shared/docs/geocube-api.md, server v1.0.3).

Every call goes through one ``geocube_client.transport.Transport``: the API key as metadata (never
shown), the timeout, bounded retries of UNKNOWN, and every ``grpc.RpcError`` mapped to
``geocube_client.errors`` in one place. This module holds the calls: requests in, models out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType

from pydantic import SecretStr

from common.dataformat import DataFormat
from geocube_client import convert
from geocube_client.checks import (
    check_delete_arguments,
    check_index_arguments,
    check_variable_arguments,
)
from geocube_client.cube import cube_request, images_from_stream
from geocube_client.errors import (
    GeocubeAlreadyExistsError,
    GeocubeError,
    GeocubeInvalidArgumentError,
    GeocubeNotFoundError,
)
from geocube_client.geometry import normalize_aoi_wkt
from geocube_client.models import (
    Container,
    CubeImage,
    Dataset,
    IndexOutcome,
    Instance,
    NewRecord,
    Record,
    Variable,
)
from geocube_client.pb import geocube_pb2 as pb
from geocube_client.transport import Transport

logger = logging.getLogger(__name__)


class GeocubeClient:
    """Talks to one Geocube server; use it as a context manager, or call ``close()``.

    Args:
        address: ``host:port`` of the Geocube gRPC endpoint.
        api_key: sent as ``authorization: Bearer <key>`` on every call; never logged.
        insecure: plaintext (h2c) instead of TLS.
        timeout_s: deadline of each call (a whole stream for ListRecords/ListVariables).
        root_certificates: PEM roots for TLS; None uses grpcio's default roots (its bundled set, or the
            file named by GRPC_DEFAULT_SSL_ROOTS_FILE_PATH).
        unknown_retry_delays_s: sleeps between the attempts of a call answered UNKNOWN; one retry per item.
    """

    def __init__(
        self,
        address: str,
        *,
        api_key: str | SecretStr | None = None,
        insecure: bool = False,
        timeout_s: float = 30.0,
        root_certificates: bytes | None = None,
        unknown_retry_delays_s: Sequence[float] = (0.5, 2.0),
    ) -> None:
        self._wire = Transport(
            address, api_key=api_key, insecure=insecure, timeout_s=timeout_s,
            root_certificates=root_certificates, unknown_retry_delays_s=unknown_retry_delays_s,
        )  # fmt: skip
        self.address = address
        self.insecure = insecure
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        key = "set" if self._wire.has_api_key else "none"
        return f"GeocubeClient(address={self.address!r}, insecure={self.insecure}, api_key={key})"

    def close(self) -> None:
        """Close the channel; calls made afterwards fail."""
        self._wire.close()

    def __enter__(self) -> GeocubeClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ version and variables

    def version(self) -> str:
        """The server's version string."""
        response = self._wire.unary("Version", pb.GetVersionRequest())
        return str(response.Version)

    def get_variable(
        self, *, id: str | None = None, name: str | None = None, instance_id: str | None = None
    ) -> Variable:
        """A variable by id, name or instance id (then only that instance is in ``instances``).

        Raises:
            GeocubeNotFoundError: no such variable or instance.
        """
        given = {k: v for k, v in (("id", id), ("name", name), ("instance_id", instance_id)) if v}
        if len(given) != 1:
            raise GeocubeInvalidArgumentError(
                f"get_variable: pass exactly one of id=, name=, instance_id= (got {sorted(given) or 'none'})"
            )
        response = self._wire.unary("GetVariable", pb.GetVariableRequest(**given))
        return convert.variable_from_pb(response.variable)

    def list_variables(self, *, name_pattern: str = "", limit: int = 0, page: int = 0) -> list[Variable]:
        """Variables whose name matches ``name_pattern`` (``*``, ``?``), ``limit`` per ``page`` (0 = all)."""
        request = pb.ListVariablesRequest(name=name_pattern, limit=limit, page=page)
        return [
            convert.variable_from_pb(item.variable) for item in self._wire.stream("ListVariables", request)
        ]

    def create_variable(
        self,
        *,
        name: str,
        bands: list[str],
        dformat: DataFormat,
        unit: str = "",
        description: str = "",
        resampling: str = "NEAR",
    ) -> str:
        """Create a variable and return its id.

        Raises:
            GeocubeAlreadyExistsError: a variable with this name exists.
        """
        check_variable_arguments(name, bands, dformat, resampling)
        variable = pb.Variable(
            name=name,
            unit=unit,
            description=description,
            dformat=convert.dformat_to_pb(dformat),
            bands=bands,
            resampling_alg=pb.Resampling.Value(resampling.upper()),
        )
        response = self._wire.unary("CreateVariable", pb.CreateVariableRequest(variable=variable))
        return str(response.id)

    def instantiate_variable(
        self, variable_id: str, instance_name: str, *, metadata: Mapping[str, str] | None = None
    ) -> Instance:
        """Create an instance of a variable.

        Raises:
            GeocubeAlreadyExistsError: the variable has an instance with this name.
            GeocubeNotFoundError: unknown variable.
        """
        request = pb.InstantiateVariableRequest(
            variable_id=variable_id, instance_name=instance_name, instance_metadata=dict(metadata or {})
        )
        response = self._wire.unary("InstantiateVariable", request)
        return convert.instance_from_pb(response.instance)

    # ------------------------------------------------------------------ AOIs and records

    def create_aoi(self, geometry_wkt: str) -> str:
        """Create an AOI from a POLYGON/MULTIPOLYGON WKT (lon/lat) and return its id.

        The geometry is sent in normal form (``geocube_client.geometry``) so that the same geometry always
        has the same coordinate sequence; the Geocube then answers ALREADY_EXISTS with the id of the AOI it
        has, which is returned.
        """
        aoi = convert.aoi_to_pb(normalize_aoi_wkt(geometry_wkt))
        try:
            response = self._wire.unary("CreateAOI", pb.CreateAOIRequest(aoi=aoi))
        except GeocubeAlreadyExistsError as exc:
            if not exc.resource_name:
                raise
            logger.debug("Geocube at %s has this AOI already: reusing %s", self.address, exc.resource_name)
            return exc.resource_name
        return str(response.id)

    def create_records(self, records: Sequence[NewRecord]) -> list[str]:
        """Create records atomically and return their ids in request order.

        The server refuses the whole batch if one record exists already (same name, tags and time): look
        records up with ``list_records`` first and create only the missing ones. After UNKNOWN the call is
        retried, so a batch that was committed before the failure comes back as ALREADY_EXISTS.
        """
        if not records:
            return []
        request = pb.CreateRecordsRequest(
            records=[
                pb.NewRecord(
                    name=r.name,
                    time=convert.timestamp_from_datetime(r.time, field_name=f"records[{i}].time"),
                    tags=r.tags,
                    aoi_id=r.aoi_id,
                )
                for i, r in enumerate(records)
            ]
        )
        ids = list(self._wire.unary("CreateRecords", request).ids)
        if len(ids) != len(records):
            raise GeocubeError(
                f"Geocube CreateRecords at {self.address} returned {len(ids)} ids for {len(records)} records",
                rpc="CreateRecords",
            )
        return ids

    def list_records(
        self,
        *,
        name: str = "",
        tags: Mapping[str, str] | None = None,
        from_time: datetime | None = None,
        to_time: datetime | None = None,
        aoi_wkt: str | None = None,
        limit: int = 0,
        page: int = 0,
        with_aoi: bool = False,
    ) -> list[Record]:
        """Records with from_time ≤ time ≤ to_time, whose AOI intersects ``aoi_wkt``, ordered by time.

        A tag value ``""`` means "the key exists"; a value with ``*`` or ``?`` is a pattern. ``limit`` per
        ``page`` (pages start at 0; limit 0 = all).
        """
        request = pb.ListRecordsRequest(
            name=name, tags=dict(tags or {}), limit=limit, page=page, with_aoi=with_aoi
        )
        if from_time is not None:
            request.from_time.CopyFrom(convert.timestamp_from_datetime(from_time, field_name="from_time"))
        if to_time is not None:
            request.to_time.CopyFrom(convert.timestamp_from_datetime(to_time, field_name="to_time"))
        if aoi_wkt is not None:
            request.aoi.CopyFrom(convert.aoi_to_pb(normalize_aoi_wkt(aoi_wkt, field_name="aoi_wkt")))
        items = self._wire.stream("ListRecords", request)
        return [convert.record_from_pb(item.record, with_aoi=with_aoi) for item in items]

    def add_records_tags(self, ids: Iterable[str], tags: Mapping[str, str]) -> int:
        """Add (or overwrite) tags on records; returns how many records were updated (unknown ids: 0)."""
        request = pb.AddRecordsTagsRequest(ids=list(ids), tags=dict(tags))
        return int(self._wire.unary("AddRecordsTags", request).nb)

    def delete_records(self, ids: Iterable[str], *, no_fail: bool = False) -> int:
        """Delete records; returns how many were deleted.

        Raises:
            GeocubeFailedPreconditionError: a record still has datasets (nothing is deleted), unless
                ``no_fail``, which deletes only the records without datasets.
        """
        request = pb.DeleteRecordsRequest(ids=list(ids), no_fail=no_fail)
        return int(self._wire.unary("DeleteRecords", request).nb)

    # ------------------------------------------------------------------ indexing

    def index_dataset(
        self,
        *,
        uri: str,
        record_id: str,
        instance_id: str,
        bands: list[int],
        dformat: DataFormat,
        real_min_value: float,
        real_max_value: float,
        exponent: float = 1.0,
        managed: bool = False,
        container_subdir: str = "",
    ) -> IndexOutcome:
        """Index the ``bands`` of the file at ``uri`` as the dataset of (record, instance).

        The Geocube opens the file itself: ``uri`` must be readable by the server (an absolute path for
        local storage, ``gs://``/``s3://`` otherwise). On ALREADY_EXISTS the container is read back: if it
        holds a dataset with this record, instance and bands, it is ours (``ALREADY_INDEXED``).

        Raises:
            GeocubeInvalidArgumentError: a field is invalid (checked before sending, or by the server).
            GeocubeAlreadyExistsError: these bands of ``uri`` are indexed for another record or instance.
            GeocubeNotFoundError: unknown record or instance.
        """
        check_index_arguments(
            uri, record_id, instance_id, bands, dformat, real_min_value, real_max_value, exponent
        )
        wanted = Dataset(
            record_id=record_id,
            instance_id=instance_id,
            container_subdir=container_subdir,
            bands=list(bands),
            dformat=dformat,
            real_min_value=real_min_value,
            real_max_value=real_max_value,
            exponent=exponent,
        )
        container = pb.Container(uri=uri, managed=managed, datasets=[convert.dataset_to_pb(wanted)])
        try:
            self._wire.unary("IndexDatasets", pb.IndexDatasetsRequest(container=container))
        except GeocubeAlreadyExistsError as exc:
            return self._resolve_index_conflict(exc, uri, wanted)
        return IndexOutcome.INDEXED

    def _resolve_index_conflict(
        self, exc: GeocubeAlreadyExistsError, uri: str, wanted: Dataset
    ) -> IndexOutcome:
        """ALREADY_EXISTS names only "<subdir>/<band>": read the container to tell whether it is ours."""
        try:
            containers = self.get_containers([uri])
        except GeocubeNotFoundError:
            raise exc from None
        datasets = [d for c in containers if c.uri == uri for d in c.datasets]
        ours = [d for d in datasets if _identity(d) == _identity(wanted)]
        if ours:
            # Ours, but not identical (another real range or exponent, or a rewritten file).
            logger.warning(
                "%s bands %s were already indexed for record %s instance %s; kept as indexed "
                "(real range [%s, %s], exponent %s; asked [%s, %s], %s)",
                uri, wanted.bands, wanted.record_id, wanted.instance_id, ours[0].real_min_value,
                ours[0].real_max_value, ours[0].exponent, wanted.real_min_value, wanted.real_max_value,
                wanted.exponent,
            )  # fmt: skip
            return IndexOutcome.ALREADY_INDEXED
        others = [
            f"record_id={d.record_id} instance_id={d.instance_id} bands={d.bands}"
            for d in datasets
            if d.container_subdir == wanted.container_subdir and set(d.bands) & set(wanted.bands)
        ]
        raise GeocubeAlreadyExistsError(
            f"index_dataset: {uri} (subdir {wanted.container_subdir!r}, bands {wanted.bands}) is already "
            f"indexed for {'; '.join(others) or 'another dataset'}, not for record_id={wanted.record_id} "
            f"instance_id={wanted.instance_id}. Write the layer to a new URI, or delete the other dataset "
            "first",
            rpc="IndexDatasets",
            resource_name=exc.resource_name,
            resource_type=exc.resource_type,
        ) from exc

    def get_cube(
        self,
        *,
        instance_id: str,
        record_ids: Sequence[str],
        crs_wkt: str,
        transform: Sequence[float],
        width: int,
        height: int,
        resampling: str = "NEAR",
        compression_level: int = -3,
    ) -> list[CubeImage]:
        """Read a cube: one image per record, on the grid (crs, GDAL geotransform, size), in the variable's
        format (the Geocube maps each dataset to real values and casts them into the variable's dtype).

        Args:
            transform: the GDAL geotransform ``(x0, dx, rx, y0, ry, dy)`` of the output grid.
            compression_level: -3 (none: loopback) to 9; the Geocube deflates, this client inflates.

        Returns:
            The images in the Geocube's order; one that could not be made has ``error`` set (e.g.
            ``... NotFound desc = Not enough valid pixels (skipped)``: every pixel is the variable's nodata)
            and no array. A record without dataset of the instance has no image.
        """
        request = cube_request(
            instance_id=instance_id, record_ids=record_ids, crs_wkt=crs_wkt, transform=transform,
            width=width, height=height, resampling=resampling, compression_level=compression_level,
        )  # fmt: skip
        return images_from_stream(self._wire.stream("GetCube", request))

    def get_containers(self, uris: Iterable[str]) -> list[Container]:
        """Containers by URI (compared literally), with their datasets.

        Raises:
            GeocubeNotFoundError: one of the URIs is unknown (the call is all-or-nothing).
        """
        uri_list = list(uris)
        if not uri_list:
            return []
        response = self._wire.unary("GetContainers", pb.GetContainersRequest(uris=uri_list))
        return [convert.container_from_pb(c) for c in response.containers]

    def delete_datasets(
        self, record_ids: Sequence[str], instance_ids: Sequence[str], *, simulate: bool = False
    ) -> list[str]:
        """Delete every dataset of these records x these instances (``geocube.Admin/DeleteDatasets``);
        return the server's one line per dataset (``convert.deleted_dataset_from_line`` reads one).

        The server deletes "without any control" and reads an empty list as "all": both lists must be
        given. The files stay (containers too, even empty); records are then free for ``delete_records``.
        ``simulate`` only reports, on a server whose DeleteDatasets has the ``simulate`` field (upstream
        before its deletion jobs, and the local server). Upstream 1.0.3 moved deletion to a job
        (``Geocube.DeleteDatasets``, kept on Admin for older clients, shared/docs/geocube-api.md is
        silent on it): such a server ignores ``simulate`` and answers no lines, so callers check the
        outcome with ``get_containers``. Admin calls need the server's admin key when it has one.

        Raises:
            GeocubeInvalidArgumentError: an empty list, or an id that is not a UUID.
            GeocubeAuthError: the key is not the server's admin key.
        """
        records, instances = list(dict.fromkeys(record_ids)), list(dict.fromkeys(instance_ids))
        check_delete_arguments(records, instances)
        request = pb.DeleteDatasetsRequest(simulate=simulate, records_id=records, instances_id=instances)
        response = self._wire.unary("DeleteDatasets", request, service="Admin")
        lines = [str(line) for line in response.results]
        logger.info(
            "Geocube %s: %s %d dataset(s) of %d record(s) x %d instance(s)", self.address,
            "would delete" if simulate else "deleted", len(lines), len(records), len(instances),
        )  # fmt: skip
        return lines


def _identity(d: Dataset) -> tuple[str, str, str, list[int]]:
    """What makes an indexed dataset "ours": record, instance, subdir and bands."""
    return (d.record_id, d.instance_id, d.container_subdir, list(d.bands))
