"""GetCube on the wire: the request of one instance on a grid, and the streamed answer made back into
images (upstream api/v1/pb/catalog.proto; shared/docs/geocube-api.md "Reading layers back").

An image is ``ImageHeader.data`` (part 0) followed by the ``ImageChunk`` data of the parts after it,
deflated (raw RFC 1951) when ``compression`` is set, of ``dtype`` in byte order ``order``, pixel-interleaved
as height x width x bands (``shape``: dim1 = bands, dim2 = width, dim3 = height). A header with ``error``
set stands for an image that could not be made. numpy is imported here only, when a cube is read.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from geocube_client import convert
from geocube_client.models import PROTO_NAME_TO_DTYPE, CubeImage
from geocube_client.pb import geocube_pb2 as pb


def cube_request(
    *,
    instance_id: str,
    record_ids: Sequence[str],
    crs_wkt: str,
    transform: Sequence[float],
    width: int,
    height: int,
    resampling: str,
    compression_level: int,
) -> pb.GetCubeRequest:
    """One image per record, on the grid (GDAL geotransform ``(x0, dx, rx, y0, ry, dy)``), format Raw."""
    a, b, c, d, e, f = (float(v) for v in transform)
    return pb.GetCubeRequest(
        records=pb.RecordIdList(ids=list(record_ids)),
        instances_id=[instance_id],
        crs=crs_wkt,
        pix_to_crs=pb.GeoTransform(a=a, b=b, c=c, d=d, e=e, f=f),
        size=pb.Size(width=width, height=height),
        compression_level=compression_level,
        format=pb.Raw,
        resampling_alg=pb.Resampling.Value(resampling.upper()),
        protocol_v11x=True,
    )


def _image(header: Any, parts: list[bytes]) -> CubeImage:
    import numpy as np

    records = [convert.record_from_pb(r, with_aoi=False) for r in header.grouped_records.records]
    if header.error:
        return CubeImage(records=records, array=None, error=header.error)
    data = b"".join(parts)
    if header.compression:
        data = zlib.decompress(data, -15)
    dtype = np.dtype(PROTO_NAME_TO_DTYPE[pb.DataFormat.Dtype.Name(header.dtype)])
    dtype = dtype.newbyteorder("<" if header.order == pb.LittleEndian else ">")
    shape = (header.shape.dim3, header.shape.dim2, max(header.shape.dim1, 1))
    array = np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    return CubeImage(records=records, array=array)


def images_from_stream(messages: Iterable[Any]) -> list[CubeImage]:
    """The images of a GetCube answer (its global header is skipped), in the order the Geocube sent them."""
    images: list[CubeImage] = []
    header: Any = None
    parts: list[bytes] = []
    for message in messages:
        kind = message.WhichOneof("response")
        if kind == "header":
            if header is not None:
                images.append(_image(header, parts))
            header, parts = message.header, [message.header.data]
        elif kind == "chunk":
            parts.append(message.chunk.data)
    if header is not None:
        images.append(_image(header, parts))
    return images
