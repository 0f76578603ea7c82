import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Resampling(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UNDEFINED: _ClassVar[Resampling]
    NEAR: _ClassVar[Resampling]
    BILINEAR: _ClassVar[Resampling]
    CUBIC: _ClassVar[Resampling]
    CUBICSPLINE: _ClassVar[Resampling]
    LANCZOS: _ClassVar[Resampling]
    AVERAGE: _ClassVar[Resampling]
    MODE: _ClassVar[Resampling]
    MAX: _ClassVar[Resampling]
    MIN: _ClassVar[Resampling]
    MED: _ClassVar[Resampling]
    Q1: _ClassVar[Resampling]
    Q3: _ClassVar[Resampling]

class ByteOrder(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LittleEndian: _ClassVar[ByteOrder]
    BigEndian: _ClassVar[ByteOrder]

class FileFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    Raw: _ClassVar[FileFormat]
    GTiff: _ClassVar[FileFormat]
UNDEFINED: Resampling
NEAR: Resampling
BILINEAR: Resampling
CUBIC: Resampling
CUBICSPLINE: Resampling
LANCZOS: Resampling
AVERAGE: Resampling
MODE: Resampling
MAX: Resampling
MIN: Resampling
MED: Resampling
Q1: Resampling
Q3: Resampling
LittleEndian: ByteOrder
BigEndian: ByteOrder
Raw: FileFormat
GTiff: FileFormat

class Coord(_message.Message):
    __slots__ = ("lon", "lat")
    LON_FIELD_NUMBER: _ClassVar[int]
    LAT_FIELD_NUMBER: _ClassVar[int]
    lon: float
    lat: float
    def __init__(self, lon: _Optional[float] = ..., lat: _Optional[float] = ...) -> None: ...

class LinearRing(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Coord]
    def __init__(self, points: _Optional[_Iterable[_Union[Coord, _Mapping]]] = ...) -> None: ...

class Polygon(_message.Message):
    __slots__ = ("linearrings",)
    LINEARRINGS_FIELD_NUMBER: _ClassVar[int]
    linearrings: _containers.RepeatedCompositeFieldContainer[LinearRing]
    def __init__(self, linearrings: _Optional[_Iterable[_Union[LinearRing, _Mapping]]] = ...) -> None: ...

class AOI(_message.Message):
    __slots__ = ("polygons",)
    POLYGONS_FIELD_NUMBER: _ClassVar[int]
    polygons: _containers.RepeatedCompositeFieldContainer[Polygon]
    def __init__(self, polygons: _Optional[_Iterable[_Union[Polygon, _Mapping]]] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("id", "name", "time", "tags", "aoi_id", "aoi")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    AOI_ID_FIELD_NUMBER: _ClassVar[int]
    AOI_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    time: _timestamp_pb2.Timestamp
    tags: _containers.ScalarMap[str, str]
    aoi_id: str
    aoi: AOI
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., aoi_id: _Optional[str] = ..., aoi: _Optional[_Union[AOI, _Mapping]] = ...) -> None: ...

class NewRecord(_message.Message):
    __slots__ = ("name", "time", "tags", "aoi_id")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    AOI_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    time: _timestamp_pb2.Timestamp
    tags: _containers.ScalarMap[str, str]
    aoi_id: str
    def __init__(self, name: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., aoi_id: _Optional[str] = ...) -> None: ...

class CreateRecordsRequest(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[NewRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[NewRecord, _Mapping]]] = ...) -> None: ...

class CreateRecordsResponse(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRecordsRequest(_message.Message):
    __slots__ = ("name", "tags", "from_time", "to_time", "limit", "page", "aoi", "with_aoi")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    AOI_FIELD_NUMBER: _ClassVar[int]
    WITH_AOI_FIELD_NUMBER: _ClassVar[int]
    name: str
    tags: _containers.ScalarMap[str, str]
    from_time: _timestamp_pb2.Timestamp
    to_time: _timestamp_pb2.Timestamp
    limit: int
    page: int
    aoi: AOI
    with_aoi: bool
    def __init__(self, name: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., limit: _Optional[int] = ..., page: _Optional[int] = ..., aoi: _Optional[_Union[AOI, _Mapping]] = ..., with_aoi: _Optional[bool] = ...) -> None: ...

class ListRecordsResponseItem(_message.Message):
    __slots__ = ("record",)
    RECORD_FIELD_NUMBER: _ClassVar[int]
    record: Record
    def __init__(self, record: _Optional[_Union[Record, _Mapping]] = ...) -> None: ...

class AddRecordsTagsRequest(_message.Message):
    __slots__ = ("ids", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IDS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    tags: _containers.ScalarMap[str, str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AddRecordsTagsResponse(_message.Message):
    __slots__ = ("nb",)
    NB_FIELD_NUMBER: _ClassVar[int]
    nb: int
    def __init__(self, nb: _Optional[int] = ...) -> None: ...

class DeleteRecordsRequest(_message.Message):
    __slots__ = ("ids", "no_fail")
    IDS_FIELD_NUMBER: _ClassVar[int]
    NO_FAIL_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    no_fail: bool
    def __init__(self, ids: _Optional[_Iterable[str]] = ..., no_fail: _Optional[bool] = ...) -> None: ...

class DeleteRecordsResponse(_message.Message):
    __slots__ = ("nb",)
    NB_FIELD_NUMBER: _ClassVar[int]
    nb: int
    def __init__(self, nb: _Optional[int] = ...) -> None: ...

class CreateAOIRequest(_message.Message):
    __slots__ = ("aoi",)
    AOI_FIELD_NUMBER: _ClassVar[int]
    aoi: AOI
    def __init__(self, aoi: _Optional[_Union[AOI, _Mapping]] = ...) -> None: ...

class CreateAOIResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DataFormat(_message.Message):
    __slots__ = ("dtype", "no_data", "min_value", "max_value")
    class Dtype(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNDEFINED: _ClassVar[DataFormat.Dtype]
        UInt8: _ClassVar[DataFormat.Dtype]
        UInt16: _ClassVar[DataFormat.Dtype]
        UInt32: _ClassVar[DataFormat.Dtype]
        Int8: _ClassVar[DataFormat.Dtype]
        Int16: _ClassVar[DataFormat.Dtype]
        Int32: _ClassVar[DataFormat.Dtype]
        Float32: _ClassVar[DataFormat.Dtype]
        Float64: _ClassVar[DataFormat.Dtype]
        Complex64: _ClassVar[DataFormat.Dtype]
    UNDEFINED: DataFormat.Dtype
    UInt8: DataFormat.Dtype
    UInt16: DataFormat.Dtype
    UInt32: DataFormat.Dtype
    Int8: DataFormat.Dtype
    Int16: DataFormat.Dtype
    Int32: DataFormat.Dtype
    Float32: DataFormat.Dtype
    Float64: DataFormat.Dtype
    Complex64: DataFormat.Dtype
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    NO_DATA_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    dtype: DataFormat.Dtype
    no_data: float
    min_value: float
    max_value: float
    def __init__(self, dtype: _Optional[_Union[DataFormat.Dtype, str]] = ..., no_data: _Optional[float] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ...) -> None: ...

class Instance(_message.Message):
    __slots__ = ("id", "name", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Variable(_message.Message):
    __slots__ = ("id", "name", "unit", "description", "dformat", "bands", "palette", "resampling_alg", "instances")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DFORMAT_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    PALETTE_FIELD_NUMBER: _ClassVar[int]
    RESAMPLING_ALG_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    unit: str
    description: str
    dformat: DataFormat
    bands: _containers.RepeatedScalarFieldContainer[str]
    palette: str
    resampling_alg: Resampling
    instances: _containers.RepeatedCompositeFieldContainer[Instance]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., unit: _Optional[str] = ..., description: _Optional[str] = ..., dformat: _Optional[_Union[DataFormat, _Mapping]] = ..., bands: _Optional[_Iterable[str]] = ..., palette: _Optional[str] = ..., resampling_alg: _Optional[_Union[Resampling, str]] = ..., instances: _Optional[_Iterable[_Union[Instance, _Mapping]]] = ...) -> None: ...

class GetVariableRequest(_message.Message):
    __slots__ = ("id", "name", "instance_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    instance_id: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., instance_id: _Optional[str] = ...) -> None: ...

class GetVariableResponse(_message.Message):
    __slots__ = ("variable",)
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    variable: Variable
    def __init__(self, variable: _Optional[_Union[Variable, _Mapping]] = ...) -> None: ...

class ListVariablesRequest(_message.Message):
    __slots__ = ("name", "limit", "page")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    limit: int
    page: int
    def __init__(self, name: _Optional[str] = ..., limit: _Optional[int] = ..., page: _Optional[int] = ...) -> None: ...

class ListVariablesResponseItem(_message.Message):
    __slots__ = ("variable",)
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    variable: Variable
    def __init__(self, variable: _Optional[_Union[Variable, _Mapping]] = ...) -> None: ...

class CreateVariableRequest(_message.Message):
    __slots__ = ("variable",)
    VARIABLE_FIELD_NUMBER: _ClassVar[int]
    variable: Variable
    def __init__(self, variable: _Optional[_Union[Variable, _Mapping]] = ...) -> None: ...

class CreateVariableResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class InstantiateVariableRequest(_message.Message):
    __slots__ = ("variable_id", "instance_name", "instance_metadata")
    class InstanceMetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VARIABLE_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_NAME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_METADATA_FIELD_NUMBER: _ClassVar[int]
    variable_id: str
    instance_name: str
    instance_metadata: _containers.ScalarMap[str, str]
    def __init__(self, variable_id: _Optional[str] = ..., instance_name: _Optional[str] = ..., instance_metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class InstantiateVariableResponse(_message.Message):
    __slots__ = ("instance",)
    INSTANCE_FIELD_NUMBER: _ClassVar[int]
    instance: Instance
    def __init__(self, instance: _Optional[_Union[Instance, _Mapping]] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("record_id", "instance_id", "container_subdir", "bands", "dformat", "real_min_value", "real_max_value", "exponent")
    RECORD_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_SUBDIR_FIELD_NUMBER: _ClassVar[int]
    BANDS_FIELD_NUMBER: _ClassVar[int]
    DFORMAT_FIELD_NUMBER: _ClassVar[int]
    REAL_MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    REAL_MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    EXPONENT_FIELD_NUMBER: _ClassVar[int]
    record_id: str
    instance_id: str
    container_subdir: str
    bands: _containers.RepeatedScalarFieldContainer[int]
    dformat: DataFormat
    real_min_value: float
    real_max_value: float
    exponent: float
    def __init__(self, record_id: _Optional[str] = ..., instance_id: _Optional[str] = ..., container_subdir: _Optional[str] = ..., bands: _Optional[_Iterable[int]] = ..., dformat: _Optional[_Union[DataFormat, _Mapping]] = ..., real_min_value: _Optional[float] = ..., real_max_value: _Optional[float] = ..., exponent: _Optional[float] = ...) -> None: ...

class Container(_message.Message):
    __slots__ = ("uri", "managed", "datasets")
    URI_FIELD_NUMBER: _ClassVar[int]
    MANAGED_FIELD_NUMBER: _ClassVar[int]
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    uri: str
    managed: bool
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    def __init__(self, uri: _Optional[str] = ..., managed: _Optional[bool] = ..., datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ...) -> None: ...

class IndexDatasetsRequest(_message.Message):
    __slots__ = ("container",)
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    container: Container
    def __init__(self, container: _Optional[_Union[Container, _Mapping]] = ...) -> None: ...

class IndexDatasetsResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetContainersRequest(_message.Message):
    __slots__ = ("uris",)
    URIS_FIELD_NUMBER: _ClassVar[int]
    uris: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, uris: _Optional[_Iterable[str]] = ...) -> None: ...

class GetContainersResponse(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[Container]
    def __init__(self, containers: _Optional[_Iterable[_Union[Container, _Mapping]]] = ...) -> None: ...

class DeleteDatasetsRequest(_message.Message):
    __slots__ = ("simulate", "records_id", "instances_id")
    SIMULATE_FIELD_NUMBER: _ClassVar[int]
    RECORDS_ID_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_ID_FIELD_NUMBER: _ClassVar[int]
    simulate: bool
    records_id: _containers.RepeatedScalarFieldContainer[str]
    instances_id: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, simulate: _Optional[bool] = ..., records_id: _Optional[_Iterable[str]] = ..., instances_id: _Optional[_Iterable[str]] = ...) -> None: ...

class DeleteDatasetsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, results: _Optional[_Iterable[str]] = ...) -> None: ...

class Size(_message.Message):
    __slots__ = ("width", "height")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class GeoTransform(_message.Message):
    __slots__ = ("a", "b", "c", "d", "e", "f")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    C_FIELD_NUMBER: _ClassVar[int]
    D_FIELD_NUMBER: _ClassVar[int]
    E_FIELD_NUMBER: _ClassVar[int]
    F_FIELD_NUMBER: _ClassVar[int]
    a: float
    b: float
    c: float
    d: float
    e: float
    f: float
    def __init__(self, a: _Optional[float] = ..., b: _Optional[float] = ..., c: _Optional[float] = ..., d: _Optional[float] = ..., e: _Optional[float] = ..., f: _Optional[float] = ...) -> None: ...

class RecordFilters(_message.Message):
    __slots__ = ("tags", "from_time", "to_time")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TAGS_FIELD_NUMBER: _ClassVar[int]
    FROM_TIME_FIELD_NUMBER: _ClassVar[int]
    TO_TIME_FIELD_NUMBER: _ClassVar[int]
    tags: _containers.ScalarMap[str, str]
    from_time: _timestamp_pb2.Timestamp
    to_time: _timestamp_pb2.Timestamp
    def __init__(self, tags: _Optional[_Mapping[str, str]] = ..., from_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., to_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordIdList(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GroupedRecordIds(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GroupedRecordIdsList(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[GroupedRecordIds]
    def __init__(self, records: _Optional[_Iterable[_Union[GroupedRecordIds, _Mapping]]] = ...) -> None: ...

class GroupedRecords(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class Shape(_message.Message):
    __slots__ = ("dim1", "dim2", "dim3")
    DIM1_FIELD_NUMBER: _ClassVar[int]
    DIM2_FIELD_NUMBER: _ClassVar[int]
    DIM3_FIELD_NUMBER: _ClassVar[int]
    dim1: int
    dim2: int
    dim3: int
    def __init__(self, dim1: _Optional[int] = ..., dim2: _Optional[int] = ..., dim3: _Optional[int] = ...) -> None: ...

class ImageHeader(_message.Message):
    __slots__ = ("shape", "dtype", "data", "nb_parts", "size", "order", "compression", "error", "grouped_records")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    NB_PARTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    GROUPED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    shape: Shape
    dtype: DataFormat.Dtype
    data: bytes
    nb_parts: int
    size: int
    order: ByteOrder
    compression: bool
    error: str
    grouped_records: GroupedRecords
    def __init__(self, shape: _Optional[_Union[Shape, _Mapping]] = ..., dtype: _Optional[_Union[DataFormat.Dtype, str]] = ..., data: _Optional[bytes] = ..., nb_parts: _Optional[int] = ..., size: _Optional[int] = ..., order: _Optional[_Union[ByteOrder, str]] = ..., compression: _Optional[bool] = ..., error: _Optional[str] = ..., grouped_records: _Optional[_Union[GroupedRecords, _Mapping]] = ...) -> None: ...

class ImageChunk(_message.Message):
    __slots__ = ("part", "data")
    PART_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    part: int
    data: bytes
    def __init__(self, part: _Optional[int] = ..., data: _Optional[bytes] = ...) -> None: ...

class GetCubeRequest(_message.Message):
    __slots__ = ("records", "filters", "grouped_records", "instances_id", "crs", "pix_to_crs", "size", "compression_level", "headers_only", "format", "resampling_alg", "protocol_v11x")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    GROUPED_RECORDS_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_ID_FIELD_NUMBER: _ClassVar[int]
    CRS_FIELD_NUMBER: _ClassVar[int]
    PIX_TO_CRS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_LEVEL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_ONLY_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    RESAMPLING_ALG_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_V11X_FIELD_NUMBER: _ClassVar[int]
    records: RecordIdList
    filters: RecordFilters
    grouped_records: GroupedRecordIdsList
    instances_id: _containers.RepeatedScalarFieldContainer[str]
    crs: str
    pix_to_crs: GeoTransform
    size: Size
    compression_level: int
    headers_only: bool
    format: FileFormat
    resampling_alg: Resampling
    protocol_v11x: bool
    def __init__(self, records: _Optional[_Union[RecordIdList, _Mapping]] = ..., filters: _Optional[_Union[RecordFilters, _Mapping]] = ..., grouped_records: _Optional[_Union[GroupedRecordIdsList, _Mapping]] = ..., instances_id: _Optional[_Iterable[str]] = ..., crs: _Optional[str] = ..., pix_to_crs: _Optional[_Union[GeoTransform, _Mapping]] = ..., size: _Optional[_Union[Size, _Mapping]] = ..., compression_level: _Optional[int] = ..., headers_only: _Optional[bool] = ..., format: _Optional[_Union[FileFormat, str]] = ..., resampling_alg: _Optional[_Union[Resampling, str]] = ..., protocol_v11x: _Optional[bool] = ...) -> None: ...

class GetCubeResponseHeader(_message.Message):
    __slots__ = ("count", "nb_datasets", "ref_dformat", "resampling_alg", "geotransform", "crs")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    NB_DATASETS_FIELD_NUMBER: _ClassVar[int]
    REF_DFORMAT_FIELD_NUMBER: _ClassVar[int]
    RESAMPLING_ALG_FIELD_NUMBER: _ClassVar[int]
    GEOTRANSFORM_FIELD_NUMBER: _ClassVar[int]
    CRS_FIELD_NUMBER: _ClassVar[int]
    count: int
    nb_datasets: int
    ref_dformat: DataFormat
    resampling_alg: Resampling
    geotransform: GeoTransform
    crs: str
    def __init__(self, count: _Optional[int] = ..., nb_datasets: _Optional[int] = ..., ref_dformat: _Optional[_Union[DataFormat, _Mapping]] = ..., resampling_alg: _Optional[_Union[Resampling, str]] = ..., geotransform: _Optional[_Union[GeoTransform, _Mapping]] = ..., crs: _Optional[str] = ...) -> None: ...

class GetCubeResponse(_message.Message):
    __slots__ = ("global_header", "header", "chunk")
    GLOBAL_HEADER_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    global_header: GetCubeResponseHeader
    header: ImageHeader
    chunk: ImageChunk
    def __init__(self, global_header: _Optional[_Union[GetCubeResponseHeader, _Mapping]] = ..., header: _Optional[_Union[ImageHeader, _Mapping]] = ..., chunk: _Optional[_Union[ImageChunk, _Mapping]] = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("Version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    Version: str
    def __init__(self, Version: _Optional[str] = ...) -> None: ...
