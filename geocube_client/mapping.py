"""What a Geocube cube returns for a dataset: its data mapping, cast into the variable's format.

A Geocube (v1.0.3, upstream ``internal/geocube/dataformat.go`` and ``internal/image/image.go``,
``CastDatasetOptions`` and ``MergeDatasets``) reads a dataset's file values ``v``, whose format is
``dformat`` (dtype, nodata, [min, max]), as the real values

    real = real_min + (real_max - real_min) * ((v - min) / (max - min)) ** exponent

and answers a cube in the *variable's* format: it runs ``gdal_translate -ot <variable dtype> -scale min
max real_min real_max [-exponent e] -a_nodata <variable nodata>`` on the warped datasets. Hence:

- the file's nodata pixels become the variable's nodata;
- with ``exponent != 1`` GDAL clamps ``v`` to [min, max] first; a linear mapping extrapolates;
- the real value is written in the variable's dtype as GDAL writes it: rounded half away from zero and
  clamped to the dtype's range for integers, rounded to float32 for Float32. A real value of 0.0288 in
  a UInt16 variable is 0; if 0 is the variable's nodata, the pixel is lost;
- an image without any valid pixel is answered ``NOT_FOUND "Not enough valid pixels (skipped)"``.

``check_mapping`` applies this to every file value a layer can hold, before anything is downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from common.dataformat import DataFormat
from geocube_client.models import DTYPE_TO_PROTO_NAME

# Range of each dtype (GDAL clamps integer casts to it).
DTYPE_LIMITS: dict[str, tuple[float, float]] = {
    "uint8": (0, 255),
    "uint16": (0, 65535),
    "uint32": (0, 4294967295),
    "int8": (-128, 127),
    "int16": (-32768, 32767),
    "int32": (-2147483648, 2147483647),
    "float32": (-3.4028234663852886e38, 3.4028234663852886e38),
    "float64": (-math.inf, math.inf),
    "complex64": (-3.4028234663852886e38, 3.4028234663852886e38),
}
INTEGER_DTYPES = frozenset({"uint8", "uint16", "uint32", "int8", "int16", "int32"})
_MAX_SAMPLES = 65_537  # every value of a 16-bit file; a regular sample of wider ranges
_MIN_LEVELS = 16  # fewer distinct values than this in a cube is not the same layer any more


@dataclass(frozen=True)
class DataMapping:
    """How a dataset's file values map to real values (the IndexDatasets fields)."""

    dformat: DataFormat
    real_min: float
    real_max: float
    exponent: float = 1.0

    def to_real(self, values: np.ndarray, *, working: str = "float64") -> np.ndarray:
        """Real values of file values ``values``, as GDAL computes them for a Geocube.

        GDAL scales as ``v * ratio + offset`` in double, then stores the result in its working type:
        float32 when the file's and the output's dtypes are both small (``working_dtype``).
        """
        v = np.asarray(values, dtype=np.float64)
        low, high = self.dformat.min_value, self.dformat.max_value
        span = self.real_max - self.real_min
        if self.exponent == 1:
            ratio = span / (high - low)
            real = v * ratio + (self.real_min - low * ratio)
        else:
            fraction = np.clip((v - low) / (high - low), 0.0, 1.0)  # GDAL clamps when an exponent is given
            real = span * fraction**self.exponent + self.real_min
        return real.astype(working).astype(np.float64)

    def describe(self) -> str:
        df = self.dformat
        text = f"{df.dtype} [{_g(df.min_value)}, {_g(df.max_value)}] -> real [{_g(self.real_min)}, "
        return text + f"{_g(self.real_max)}]" + (f" ^{_g(self.exponent)}" if self.exponent != 1 else "")


def _g(value: float) -> str:
    return "NaN" if math.isnan(value) else f"{value:g}"


def describe_format(dformat: DataFormat) -> str:
    """``UInt16 [0, 10000], nodata 0``: a variable format as a user reads it."""
    name = DTYPE_TO_PROTO_NAME[dformat.dtype]
    return f"{name} [{_g(dformat.min_value)}, {_g(dformat.max_value)}], nodata {_g(dformat.no_data)}"


def cast_to_dtype(real: np.ndarray, dtype: str) -> np.ndarray:
    """``real`` written in ``dtype`` as GDAL writes it (round half away from zero, clamp; or float32)."""
    if dtype in INTEGER_DTYPES:
        low, high = DTYPE_LIMITS[dtype]
        rounded = np.where(real >= 0, np.floor(real + 0.5), np.ceil(real - 0.5))
        clipped: np.ndarray = np.clip(np.nan_to_num(rounded, nan=0.0), low, high).astype(dtype)
        return clipped
    if dtype == "complex64":
        return np.asarray(real, dtype=np.float32).astype(np.complex64)
    return np.asarray(real).astype(dtype)


_SMALL_DTYPES = frozenset({"uint8", "int8", "uint16", "int16", "float32"})


def working_dtype(file_dtype: str, output_dtype: str) -> str:
    """GDAL's working type when it scales ``file_dtype`` into ``output_dtype`` (VRT ComplexSource)."""
    return "float32" if {file_dtype, output_dtype} <= _SMALL_DTYPES else "float64"


def cube_values(
    values: np.ndarray, mapping: DataMapping, variable: DataFormat, *, real: np.ndarray | None = None
) -> np.ndarray:
    """What a cube on ``variable`` returns for file values ``values`` (nodata pixels included).

    ``real``: ``mapping.to_real(values)`` in GDAL's working type, when the caller has it already.
    """
    v = np.asarray(values)
    if real is None:
        real = mapping.to_real(v, working=working_dtype(mapping.dformat.dtype, variable.dtype))
    out = cast_to_dtype(real, variable.dtype)
    nodata = mapping.dformat.no_data
    if not math.isnan(nodata):
        out = np.where(v == nodata, np.asarray(variable.no_data).astype(out.dtype), out)
    return out


def is_nodata(values: np.ndarray, nodata: float) -> np.ndarray:
    """Which of ``values`` equal ``nodata`` (NaN nodata: which are NaN)."""
    v = np.asarray(values)
    if math.isnan(nodata):
        missing: np.ndarray = np.isnan(v) if v.dtype.kind in "fc" else np.zeros(v.shape, dtype=bool)
        return missing
    equal: np.ndarray = np.asarray(v == nodata)
    return equal


def _file_values(dformat: DataFormat) -> np.ndarray:
    """Every value a file of ``dformat`` can hold in [min, max] (a regular sample when too many)."""
    low, high = dformat.min_value, dformat.max_value
    if dformat.dtype in INTEGER_DTYPES:
        first, last = math.ceil(low), math.floor(high)
        if last - first + 1 <= _MAX_SAMPLES:
            values = np.arange(first, last + 1, dtype=np.float64)
        else:
            values = np.unique(np.round(np.linspace(first, last, _MAX_SAMPLES)))
    else:
        values = np.linspace(low, high, _MAX_SAMPLES)
    kept: np.ndarray = values[~is_nodata(values, dformat.no_data)]
    return kept


@dataclass(frozen=True)
class MappingVerdict:
    """What a cube would make of a layer: problems refuse the layer, warnings only inform."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    levels_in: int = 0
    levels_out: int = 0

    @property
    def is_ok(self) -> bool:
        return not self.problems


def is_identity(mapping: DataMapping) -> bool:
    """Whether real values are the file values themselves (real range = the file's [min, max])."""
    df = mapping.dformat
    return mapping.exponent == 1 and (mapping.real_min, mapping.real_max) == (df.min_value, df.max_value)


def suggested_variable(mapping: DataMapping) -> DataFormat:
    """A variable format that holds the layer's real values as they are."""
    if is_identity(mapping) and mapping.dformat.dtype in INTEGER_DTYPES:
        return mapping.dformat
    return DataFormat("float32", math.nan, mapping.real_min, mapping.real_max)


def check_mapping(mapping: DataMapping, variable: DataFormat) -> MappingVerdict:
    """Whether a cube on ``variable`` keeps the values of a layer indexed with ``mapping``.

    Refused (``problems``): valid values that become the variable's nodata (more than 1 %), a real range
    mostly (over half) outside the variable's [min, max], or a cube with fewer than 16 distinct values
    where the file has more. Warned: distinct values merged (precision lost), a few values outside the
    range or turned into nodata.
    """
    values = _file_values(mapping.dformat)
    if values.size == 0:
        return MappingVerdict(problems=["the file's [min, max] holds no value but its nodata"])
    real = mapping.to_real(values, working=working_dtype(mapping.dformat.dtype, variable.dtype))
    cube = cube_values(values, mapping, variable, real=real)
    problems: list[str] = []
    warnings: list[str] = []
    n = values.size
    lost = is_nodata(cube, variable.no_data)
    outside = (real < variable.min_value) | (real > variable.max_value)
    levels_in, levels_out = int(np.unique(real).size), int(np.unique(cube[~lost]).size)
    if lost.sum() > 0.01 * n:
        middle = int(np.flatnonzero(lost)[lost.sum() // 2])
        problems.append(
            f"{_pct(lost.sum(), n)} of its values become {_g(variable.no_data)}, the variable's nodata "
            f"(file value {_g(values[middle])} is real {_g(real[middle])}, written {_g(float(cube[middle]))} "
            f"in {variable.dtype})"
        )
    elif lost.any():
        warnings.append(
            f"{int(lost.sum())} file value(s) become the variable's nodata {_g(variable.no_data)}"
        )
    if outside.any():
        text = (
            f"{_pct(outside.sum(), n)} of its real range [{_g(real.min())}, {_g(real.max())}] is outside "
            f"the variable's [{_g(variable.min_value)}, {_g(variable.max_value)}]"
        )
        (problems if outside.sum() > 0.5 * n else warnings).append(text)
    if levels_out < min(_MIN_LEVELS, levels_in):
        problems.append(
            f"its {levels_in} distinct values become {levels_out} in {variable.dtype}: the variable's step "
            "is coarser than the layer's"
        )
    elif levels_out < levels_in:
        warnings.append(
            f"precision is lost: {levels_in} distinct values become {levels_out} in {variable.dtype}"
        )
    return MappingVerdict(problems, warnings, levels_in, levels_out)


def _pct(count: int | np.integer, total: int) -> str:
    share = 100.0 * float(count) / total
    return f"{share:.0f} %" if share >= 1 else f"{share:.2g} %"
