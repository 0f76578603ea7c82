"""Our geocube.proto against the wire contract (shared/docs/geocube-api.md), the stubs, and layering."""

from __future__ import annotations

import subprocess
import sys

import pytest
from google.protobuf.descriptor import FieldDescriptor

from geocube_client.generate import find_stale_stubs
from geocube_client.pb import geocube_pb2 as pb

T = FieldDescriptor
# message → {field: (number, type, repeated)}, copied from geocube-api.md's tables
CONTRACT: dict[str, dict[str, tuple[int, int, bool]]] = {
    "Coord": {"lon": (1, T.TYPE_FLOAT, False), "lat": (2, T.TYPE_FLOAT, False)},
    "LinearRing": {"points": (1, T.TYPE_MESSAGE, True)},
    "Polygon": {"linearrings": (1, T.TYPE_MESSAGE, True)},
    "AOI": {"polygons": (1, T.TYPE_MESSAGE, True)},
    "Record": {"id": (1, T.TYPE_STRING, False), "name": (2, T.TYPE_STRING, False),
               "time": (3, T.TYPE_MESSAGE, False), "tags": (4, T.TYPE_MESSAGE, True),
               "aoi_id": (5, T.TYPE_STRING, False), "aoi": (6, T.TYPE_MESSAGE, False)},
    "NewRecord": {"name": (1, T.TYPE_STRING, False), "time": (2, T.TYPE_MESSAGE, False),
                  "tags": (3, T.TYPE_MESSAGE, True), "aoi_id": (4, T.TYPE_STRING, False)},
    "DataFormat": {"dtype": (1, T.TYPE_ENUM, False), "no_data": (2, T.TYPE_DOUBLE, False),
                   "min_value": (3, T.TYPE_DOUBLE, False), "max_value": (4, T.TYPE_DOUBLE, False)},
    "Instance": {"id": (1, T.TYPE_STRING, False), "name": (2, T.TYPE_STRING, False),
                 "metadata": (3, T.TYPE_MESSAGE, True)},
    "Variable": {"id": (1, T.TYPE_STRING, False), "name": (2, T.TYPE_STRING, False),
                 "unit": (3, T.TYPE_STRING, False), "description": (4, T.TYPE_STRING, False),
                 "dformat": (5, T.TYPE_MESSAGE, False), "bands": (6, T.TYPE_STRING, True),
                 "palette": (7, T.TYPE_STRING, False), "resampling_alg": (8, T.TYPE_ENUM, False),
                 "instances": (9, T.TYPE_MESSAGE, True)},
    "Dataset": {"record_id": (2, T.TYPE_STRING, False), "instance_id": (3, T.TYPE_STRING, False),
                "container_subdir": (6, T.TYPE_STRING, False), "bands": (7, T.TYPE_INT64, True),
                "dformat": (8, T.TYPE_MESSAGE, False), "real_min_value": (9, T.TYPE_DOUBLE, False),
                "real_max_value": (10, T.TYPE_DOUBLE, False), "exponent": (11, T.TYPE_DOUBLE, False)},
    "Container": {"uri": (1, T.TYPE_STRING, False), "managed": (2, T.TYPE_BOOL, False),
                  "datasets": (3, T.TYPE_MESSAGE, True)},
    "GetVersionResponse": {"Version": (1, T.TYPE_STRING, False)},
    "GetVariableRequest": {"id": (1, T.TYPE_STRING, False), "name": (2, T.TYPE_STRING, False),
                           "instance_id": (3, T.TYPE_STRING, False)},
    "ListVariablesRequest": {"name": (1, T.TYPE_STRING, False), "limit": (3, T.TYPE_INT32, False),
                             "page": (4, T.TYPE_INT32, False)},
    "InstantiateVariableRequest": {"variable_id": (1, T.TYPE_STRING, False),
                                   "instance_name": (2, T.TYPE_STRING, False),
                                   "instance_metadata": (3, T.TYPE_MESSAGE, True)},
    "ListRecordsRequest": {"name": (1, T.TYPE_STRING, False), "tags": (3, T.TYPE_MESSAGE, True),
                           "from_time": (4, T.TYPE_MESSAGE, False), "to_time": (5, T.TYPE_MESSAGE, False),
                           "limit": (6, T.TYPE_INT32, False), "page": (7, T.TYPE_INT32, False),
                           "aoi": (8, T.TYPE_MESSAGE, False), "with_aoi": (9, T.TYPE_BOOL, False)},
    "AddRecordsTagsResponse": {"nb": (1, T.TYPE_INT64, False)},
    "DeleteRecordsRequest": {"ids": (1, T.TYPE_STRING, True), "no_fail": (2, T.TYPE_BOOL, False)},
    "IndexDatasetsRequest": {"container": (1, T.TYPE_MESSAGE, False)},
    "GetContainersRequest": {"uris": (1, T.TYPE_STRING, True)},
    # GetCube: upstream api/v1/pb/catalog.proto, records.proto, layouts.proto (release 1.0.3)
    "GetCubeRequest": {"records": (11, T.TYPE_MESSAGE, False), "filters": (2, T.TYPE_MESSAGE, False),
                       "grouped_records": (12, T.TYPE_MESSAGE, False),
                       "instances_id": (3, T.TYPE_STRING, True), "crs": (4, T.TYPE_STRING, False),
                       "pix_to_crs": (5, T.TYPE_MESSAGE, False), "size": (6, T.TYPE_MESSAGE, False),
                       "compression_level": (7, T.TYPE_INT32, False), "headers_only": (8, T.TYPE_BOOL, False),
                       "format": (9, T.TYPE_ENUM, False), "resampling_alg": (10, T.TYPE_ENUM, False),
                       "protocol_v11x": (13, T.TYPE_BOOL, False)},
    "GetCubeResponse": {"global_header": (3, T.TYPE_MESSAGE, False), "header": (1, T.TYPE_MESSAGE, False),
                        "chunk": (2, T.TYPE_MESSAGE, False)},
    "GetCubeResponseHeader": {"count": (1, T.TYPE_INT64, False), "nb_datasets": (2, T.TYPE_INT64, False),
                              "ref_dformat": (3, T.TYPE_MESSAGE, False),
                              "resampling_alg": (4, T.TYPE_ENUM, False),
                              "geotransform": (5, T.TYPE_MESSAGE, False), "crs": (6, T.TYPE_STRING, False)},
    "ImageHeader": {"shape": (1, T.TYPE_MESSAGE, False), "dtype": (2, T.TYPE_ENUM, False),
                    "data": (3, T.TYPE_BYTES, False), "nb_parts": (4, T.TYPE_INT32, False),
                    "size": (5, T.TYPE_INT64, False), "order": (6, T.TYPE_ENUM, False),
                    "compression": (7, T.TYPE_BOOL, False), "error": (9, T.TYPE_STRING, False),
                    "grouped_records": (11, T.TYPE_MESSAGE, False)},
    "ImageChunk": {"part": (1, T.TYPE_INT32, False), "data": (2, T.TYPE_BYTES, False)},
    "Shape": {"dim1": (1, T.TYPE_INT32, False), "dim2": (2, T.TYPE_INT32, False),
              "dim3": (3, T.TYPE_INT32, False)},
    "GeoTransform": {k: (i, T.TYPE_DOUBLE, False) for i, k in enumerate("abcdef", start=1)},
    "Size": {"width": (1, T.TYPE_INT32, False), "height": (2, T.TYPE_INT32, False)},
    "RecordFilters": {"tags": (1, T.TYPE_MESSAGE, True), "from_time": (2, T.TYPE_MESSAGE, False),
                      "to_time": (3, T.TYPE_MESSAGE, False)},
    "RecordIdList": {"ids": (1, T.TYPE_STRING, True)},
}  # fmt: skip


@pytest.mark.parametrize("message", sorted(CONTRACT))
def test_field_numbers_and_types_match_the_server(message: str) -> None:
    fields = pb.DESCRIPTOR.message_types_by_name[message].fields_by_name
    assert set(fields) == set(CONTRACT[message])
    for name, (number, type_, repeated) in CONTRACT[message].items():
        field = fields[name]
        assert (field.number, field.type, field.is_repeated) == (number, type_, repeated), name


def test_enums_and_packed_bands_match_the_server() -> None:
    dtypes = pb.DataFormat.Dtype
    assert [dtypes.Name(i) for i in range(10)] == [
        "UNDEFINED", "UInt8", "UInt16", "UInt32", "Int8", "Int16", "Int32", "Float32", "Float64", "Complex64"
    ]  # fmt: skip
    assert pb.Resampling.Value("NEAR") == 1 and pb.Resampling.Value("Q3") == 12
    assert pb.Dataset.DESCRIPTOR.fields_by_name["bands"].is_packed
    assert pb.GetVariableRequest.DESCRIPTOR.oneofs_by_name["identifier"].fields[2].name == "instance_id"


def test_method_paths_and_streaming_match_the_server() -> None:
    service = pb.DESCRIPTOR.services_by_name["Geocube"]
    assert service.full_name == "geocube.Geocube"
    methods = {m.name: m for m in service.methods}
    assert set(methods) == {
        "Version", "GetVariable", "ListVariables", "CreateVariable", "InstantiateVariable", "CreateAOI",
        "CreateRecords", "ListRecords", "AddRecordsTags", "DeleteRecords", "IndexDatasets", "GetContainers",
        "GetCube",
    }  # fmt: skip
    streaming = {name for name, m in methods.items() if m.server_streaming}
    assert streaming == {"ListRecords", "ListVariables", "GetCube"}


def test_committed_stubs_are_what_the_generator_produces() -> None:
    assert find_stale_stubs() == [], "stale stubs: run python -m geocube_client.generate"


def test_the_client_package_imports_neither_prefect_nor_rasterio() -> None:
    code = (
        "import sys, geocube_client, geocube_client.client;"
        "bad = sorted(m for m in ('prefect', 'rasterio') if m in sys.modules);"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_server_imports_no_prefect() -> None:
    code = "import sys, geocube_client.server; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
