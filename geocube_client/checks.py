"""Checks the client makes before sending, where a Geocube would refuse the call.

Each message names the call, the field, the value and the fix (STYLE.md §3).
"""

from __future__ import annotations

import math

from common.dataformat import DataFormat
from geocube_client.errors import GeocubeInvalidArgumentError
from geocube_client.models import is_uuid
from geocube_client.pb import geocube_pb2 as pb


def check_variable_arguments(name: str, bands: list[str], dformat: DataFormat, resampling: str) -> None:
    """A Geocube refuses a variable without a name, band names, a resampling or with min >= max."""
    where = f"create_variable(name={name!r})"
    problems: list[str] = []
    if not name:
        problems.append("name: empty; pass the variable's name, e.g. 'Sigma0'")
    resampling_names = [n for n in pb.Resampling.keys() if n != "UNDEFINED"]
    if resampling.upper() not in resampling_names:
        problems.append(f"resampling: {resampling!r} is not one of {', '.join(resampling_names)}")
    if not bands or not all(bands):
        problems.append(f"bands: {bands!r}; pass one non-empty name per band, e.g. ['VV']")
    if not dformat.min_value < dformat.max_value:
        problems.append(f"dformat: min_value={dformat.min_value} must be < max_value={dformat.max_value}")
    if problems:
        raise GeocubeInvalidArgumentError(f"{where}: " + "; ".join(problems))


def check_index_arguments(
    uri: str,
    record_id: str,
    instance_id: str,
    bands: list[int],
    dformat: DataFormat,
    real_min_value: float,
    real_max_value: float,
    exponent: float,
) -> None:
    """The checks a Geocube would fail on, made before sending, each naming the field and the fix."""
    where = f"index_dataset(uri={uri!r})"
    problems: list[str] = []
    if not uri:
        problems.append("uri: empty; pass the absolute path or gs://, s3:// URI of the file")
    elif uri.startswith("file://"):
        problems.append(
            f"uri: {uri!r}: the Geocube opens the file itself and refuses file:// URIs; "
            f"pass the absolute path {uri.removeprefix('file://')!r}"
        )
    if not record_id:
        problems.append("record_id: empty; pass the id create_records returned")
    if not instance_id:
        problems.append("instance_id: empty; pass the id of the variable's instance")
    if not bands or any(b < 1 for b in bands):
        problems.append(
            f"bands: {bands!r}; pass 1-based band indices, one per band of the variable, e.g. [1]"
        )
    if not dformat.min_value < dformat.max_value:
        problems.append(
            f"dformat: min_value={dformat.min_value} must be < max_value={dformat.max_value} "
            "(the range of the stored values, e.g. 'uint16,NaN,0,32767')"
        )
    if not real_min_value < real_max_value:
        problems.append(f"real_min_value={real_min_value} must be < real_max_value={real_max_value}")
    if not (exponent > 0 and math.isfinite(exponent)):
        problems.append(f"exponent: {exponent} must be > 0; pass exponent=1.0 for a linear mapping")
    if problems:
        raise GeocubeInvalidArgumentError(f"{where}: " + "; ".join(problems))


def check_delete_arguments(record_ids: list[str], instance_ids: list[str]) -> None:
    """A Geocube reads an empty list as "every record" (or instance): refuse it, and ids not UUIDs."""
    for name, ids in (("record_ids", record_ids), ("instance_ids", instance_ids)):
        if not ids:
            raise GeocubeInvalidArgumentError(
                f"delete_datasets: {name} is empty, which the Geocube reads as every one of them; "
                "pass the ids whose datasets to delete"
            )
        bad = [i for i in ids if not is_uuid(i)]
        if bad:
            raise GeocubeInvalidArgumentError(f"delete_datasets: {name} {bad[:3]} are not UUIDs")
