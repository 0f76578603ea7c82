"""The original ingester's storage layout and zip rules (original-ingester.md §7.2, §7.3).

Every layer of a tile lives at::

    <aoi>/<scene>/tiles/<tile>/<file name>

with the file name ``<YYYYMMDD>_<tile>_<layer>.<ext>`` (the date is the scene date), or
``<scene>.<ext>`` for the ``__product__`` layer (``<scene>`` when ext is ``""`` or ``*``).
Directory-like extensions (``dim``, ``data``, ``SAFE``, ``*``) are stored as ``<name>.zip``; every other
extension (``tif``, ``jp2``, ``zip``…) is stored byte for byte, and a ``zip`` is never unzipped on import.

Because ``SAFE`` and ``*`` both map ``__product__`` to ``<scene>.zip``, CopyProductToStorage (``*``)
stores the product that ExtractS2Bands (``SAFE``) imports as ``<scene>.SAFE``.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from storage.base import Storage
from storage.errors import StorageError, StorageNotFoundError

logger = logging.getLogger(__name__)

PRODUCT_LAYER = "__product__"
# Top-level zip entries that are never part of a product (macOS resource forks some archivers add).
IGNORED_ENTRIES = frozenset({"__MACOSX"})
ZIPPED_EXTENSIONS = frozenset({"dim", "data", "SAFE", "*"})
_NO_EXTENSION = ("", "*")


def is_stored_as_zip(ext: str) -> bool:
    """Whether a layer of this extension is a directory-like thing stored as ``<name>.zip``."""
    return ext in ZIPPED_EXTENSIONS


def _check_component(field: str, value: str) -> None:
    if not value or value in (".", "..") or "/" in value or "\\" in value:
        raise StorageError(f"{field} {value!r}: must be a non-empty name without '/', '\\' or '..'")


def layer_file_name(*, scene_id: str, tile_id: str, date: dt.date, layer: str, ext: str) -> str:
    """The local (and stored, before the zip rule) file name of a layer.

    ``<YYYYMMDD>_<tile>_<layer>.<ext>``, or ``<scene>.<ext>`` for ``__product__``. An ext of ``""`` or
    ``*`` gives no extension (``<scene>``, or ``<YYYYMMDD>_<tile>_<layer>``; the original only defines
    this for ``__product__``). ``layer`` may be ``*``, which makes a pattern for scripts
    (``20180101_T31TDH_*.tif``). ``date`` is the scene date.
    """
    if layer == PRODUCT_LAYER:
        _check_component("scene_id", scene_id)
        stem = scene_id
    else:
        _check_component("tile_id", tile_id)
        _check_component("layer", layer)
        stem = f"{date:%Y%m%d}_{tile_id}_{layer}"
    if ext in _NO_EXTENSION:
        return stem
    _check_component("ext", ext)
    return f"{stem}.{ext}"


def stored_file_name(*, scene_id: str, tile_id: str, date: dt.date, layer: str, ext: str) -> str:
    """The file name in storage: :func:`layer_file_name` with ``.zip`` for directory-like extensions."""
    name = layer_file_name(scene_id=scene_id, tile_id=tile_id, date=date, layer=layer, ext=ext)
    if not is_stored_as_zip(ext):
        return name
    if ext in _NO_EXTENSION:
        return f"{name}.zip"
    return f"{name[: -len(ext) - 1]}.zip"


def layer_key(*, aoi: str, scene_id: str, tile_id: str, date: dt.date, layer: str, ext: str) -> str:
    """The storage key of a layer: ``<aoi>/<scene>/tiles/<tile>/<stored file name>``."""
    for field, value in (("aoi", aoi), ("scene_id", scene_id), ("tile_id", tile_id)):
        _check_component(field, value)
    name = stored_file_name(scene_id=scene_id, tile_id=tile_id, date=date, layer=layer, ext=ext)
    return f"{aoi}/{scene_id}/tiles/{tile_id}/{name}"


@dataclass(frozen=True, slots=True)
class LayerRef:
    """Where one layer of one tile lives: the address every job, graph and storage call shares.

    ``date`` is the scene date; ``layer`` may be ``__product__`` (the scene's product) or ``*`` (a pattern).
    """

    aoi: str
    scene_id: str
    tile_id: str
    date: dt.date
    layer: str
    ext: str

    @property
    def file_name(self) -> str:
        """The local file name (``<YYYYMMDD>_<tile>_<layer>.<ext>``, ``<scene>.<ext>``)."""
        return layer_file_name(
            scene_id=self.scene_id, tile_id=self.tile_id, date=self.date, layer=self.layer, ext=self.ext
        )

    @property
    def key(self) -> str:
        """The storage key (``<aoi>/<scene>/tiles/<tile>/<stored file name>``)."""
        return layer_key(
            aoi=self.aoi, scene_id=self.scene_id, tile_id=self.tile_id, date=self.date, layer=self.layer,
            ext=self.ext,
        )  # fmt: skip

    def with_layer(self, layer: str, ext: str) -> LayerRef:
        """Another layer of the same tile."""
        return LayerRef(self.aoi, self.scene_id, self.tile_id, self.date, layer, ext)


def _entries_to_zip(workdir: Path, file_name: str, ext: str, exclude: Path) -> list[Path]:
    """Top-level paths that make up the layer, per §7.3."""
    if ext == "*":
        entries = sorted(p for p in workdir.iterdir() if p != exclude)
        if not entries:
            raise StorageError(f"save_layer: {workdir} is empty; nothing to store for layer '*'")
        return entries
    main = workdir / file_name
    if ext == "dim":
        data = main.with_suffix(".data")
        missing = [p for p in (main, data) if not p.exists()]
        if missing:
            raise StorageError(
                f"save_layer: DIMAP product incomplete, missing {', '.join(map(str, missing))}"
            )
        return [main, data]
    if not main.exists():
        raise StorageError(f"save_layer: {main} does not exist")
    return [main]


def _write_zip(zip_path: Path, base: Path, entries: list[Path]) -> None:
    # BestSpeed, as the original (mholt/archiver with flate.BestSpeed): products are mostly compressed JP2.
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for entry in entries:
            if entry.is_file():
                zf.write(entry, entry.relative_to(base).as_posix())
                continue
            for dirpath, dirnames, filenames in os.walk(entry):
                dirnames.sort()
                current = Path(dirpath)
                zf.write(current, current.relative_to(base).as_posix() + "/")
                for name in sorted(filenames):
                    path = current / name
                    zf.write(path, path.relative_to(base).as_posix())


def save_layer(storage: Storage, workdir: Path, ref: LayerRef) -> str:
    """Store the layer found in ``workdir`` and return its URI (what gets indexed in the Geocube).

    ``dim`` zips ``<name>.dim`` with ``<name>.data/``; ``*`` zips every entry of ``workdir``; ``SAFE`` and
    ``data`` zip the single directory. The zip is built in a temporary folder inside ``workdir`` (same
    disk as the product; a product does not fit in /tmp) and removed afterwards.
    """
    workdir = Path(workdir)
    file_name, key, ext = ref.file_name, ref.key, ref.ext
    if not is_stored_as_zip(ext):
        return storage.upload(workdir / file_name, key)
    tmp = Path(tempfile.mkdtemp(dir=workdir, prefix=".zip-"))
    try:
        entries = _entries_to_zip(workdir, file_name, ext, exclude=tmp)
        zip_path = tmp / PurePosixPath(key).name
        _write_zip(zip_path, workdir, entries)
        return storage.upload(zip_path, key)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_member(name: str, mode: int, archive: str) -> None:
    normalised = name.replace("\\", "/")
    parts = PurePosixPath(normalised).parts
    if (
        normalised.startswith("/")
        or (parts and ":" in parts[0])
        or any(p == ".." for p in parts)
        or stat.S_ISLNK(mode)
    ):
        raise StorageError(
            f"{archive}: zip member {name!r} would escape the target folder (absolute path, '..' or "
            f"symlink); refusing to unpack it"
        )


# Compression methods Python's zipfile reads (stored, deflate, bzip2, lzma); AES (99), zstd (93)... are not.
_READABLE_METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA})
_MAX_NAME_BYTES = 255  # one path component, as Linux file systems take it
_RATIO_FLOOR_BYTES = 1 << 20  # members smaller than this are not held to the ratio cap (XML compresses well)


@dataclass(frozen=True)
class UnpackLimits:
    """Caps on what a product zip may unpack to (GEOCUBE_INGESTER_UNPACK_MAX_GB, _UNPACK_MAX_RATIO)."""

    max_bytes: int = 100 * 1024**3
    max_ratio: float = 1000.0  # deflate tops out near 1032:1: only runs of one byte get there

    @classmethod
    def from_settings(cls) -> UnpackLimits:
        from common.settings import load_settings

        settings = load_settings()
        return cls(int(settings.unpack_max_gb * 1024**3), settings.unpack_max_ratio)


def _check_sizes(members: list[zipfile.ZipInfo], archive: str, limits: UnpackLimits) -> None:
    total = sum(m.file_size for m in members)
    if total > limits.max_bytes:
        raise StorageError(
            f"{archive}: unpacks to {total / 1024**3:.1f} GiB, more than the cap of "
            f"{limits.max_bytes / 1024**3:g} GiB (GEOCUBE_INGESTER_UNPACK_MAX_GB); refusing to unpack it"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size >= _RATIO_FLOOR_BYTES and ratio > limits.max_ratio:
            raise StorageError(
                f"{archive}: zip member {member.filename!r} expands {ratio:.0f} times "
                f"({member.compress_size} -> {member.file_size} bytes), more than the cap of "
                f"{limits.max_ratio:g} (GEOCUBE_INGESTER_UNPACK_MAX_RATIO): a zip bomb, refusing to unpack it"
            )


def _check_layout(members: list[zipfile.ZipInfo], archive: str) -> None:
    """No member twice, no name both a file and a folder, no component longer than a file name."""
    files: set[str] = set()
    folders: set[str] = set()
    for member in members:
        name = member.filename.replace("\\", "/")
        parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
        for part in parts:
            if len(part.encode()) > _MAX_NAME_BYTES:
                raise StorageError(
                    f"{archive}: zip member {name[:80]!r}...: a name of {len(part.encode())} bytes, longer "
                    f"than a file name may be ({_MAX_NAME_BYTES}); refusing to unpack it"
                )
        path = "/".join(parts)
        if not path:
            continue
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if name.endswith("/"):
            folders.add(path)
        elif path in files:
            raise StorageError(f"{archive}: zip member {path!r} is in the archive twice; which one is meant?")
        else:
            files.add(path)
    clash = sorted(files & folders)
    if clash:
        raise StorageError(f"{archive}: {clash[0]!r} is both a file and a folder in the zip; refusing it")


def _checked_members(
    zf: zipfile.ZipFile, root: Path, archive: str, limits: UnpackLimits | None = None
) -> list[zipfile.ZipInfo]:
    members = zf.infolist()
    for member in members:
        _check_member(member.filename, member.external_attr >> 16, archive)
        if member.flag_bits & 0x1:
            raise StorageError(
                f"{archive}: zip member {member.filename!r} is encrypted; it cannot be unpacked"
            )
        if member.compress_type not in _READABLE_METHODS:
            raise StorageError(
                f"{archive}: zip member {member.filename!r} uses compression method {member.compress_type}, "
                "which cannot be read (stored, deflate, bzip2 and lzma can); repack it or use another "
                "provider"
            )
        if not (root / member.filename).resolve().is_relative_to(root):
            raise StorageError(f"{archive}: zip member {member.filename!r} escapes the target folder")
    _check_layout(members, archive)
    _check_sizes(members, archive, limits or UnpackLimits.from_settings())
    return members


@contextmanager
def _zip_errors(archive: str) -> Iterator[None]:
    """A corrupt zip, whatever the way zipfile finds out, as a ``StorageError``; a real disk error
    (not a seek to an offset the corrupt headers gave) stays an ``OSError``."""
    try:
        yield
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError) as exc:
        raise StorageError(f"{archive}: not a valid zip ({type(exc).__name__}: {exc})") from None
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        raise StorageError(f"{archive}: not a valid zip (a member's offset is outside the file)") from None


def extract_zip_safely(zip_path: Path, target: Path, *, archive: str) -> None:
    """Unzip ``zip_path`` into ``target`` after checking that no member escapes it (zip-slip).

    Raises:
        StorageError: a member is absolute, has a '..' part, is a symlink, or the zip is corrupt.
    """
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    with _zip_errors(archive):
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root, _checked_members(zf, root, archive))


def check_zip(zip_path: Path, *, archive: str) -> list[str]:
    """Check a zip as unpacking it would, without writing it out; return its top-level entry names.

    Every member's CRC is checked (the zip is read through once) and no member may escape its folder.

    Raises:
        StorageError: not a zip, a corrupt or truncated member, or a member that would escape.
    """
    root = zip_path.parent.resolve() / ".check"
    with _zip_errors(archive):
        with zipfile.ZipFile(zip_path) as zf:
            members = _checked_members(zf, root, archive)
            bad = zf.testzip()
    if bad is not None:
        raise StorageError(f"{archive}: not a valid zip (member {bad!r} fails its CRC check)")
    return sorted({PurePosixPath(m.filename.replace("\\", "/")).parts[0] for m in members if m.filename})


def archive_is_layer(entries: list[str], ref: LayerRef) -> bool:
    """Whether a product zip with these top-level ``entries`` already is the stored form of ``ref``.

    It is for the ``__product__`` layer of kind ``zip`` (stored byte for byte), ``*`` (the zip of every
    entry) and ``SAFE`` (the zip holding ``<scene>.SAFE``), when nothing in it would be dropped on
    unpacking (``__MACOSX``). Storing it as it is then gives what unpacking and zipping again would.
    """
    if ref.layer != PRODUCT_LAYER or not entries or IGNORED_ENTRIES.intersection(entries):
        return False
    if ref.ext == "SAFE":
        return f"{ref.scene_id}.SAFE" in entries
    return ref.ext in ("*", "zip")


def save_archive(storage: Storage, archive: Path, ref: LayerRef, *, entries: list[str], move: bool) -> str:
    """Store a product zip, as it arrived, as the layer ``ref``; return its URI.

    ``entries`` are the zip's top-level names as :func:`check_zip` returned them. ``move``: the zip is a
    scratch copy the storage may take by a rename.

    Raises:
        StorageError: the zip is not the stored form of ``ref`` (see :func:`archive_is_layer`).
    """
    if not archive_is_layer(entries, ref):
        raise StorageError(f"save_archive: {archive.name} is not the stored form of {ref.file_name}")
    return storage.upload(archive, ref.key, move=move)


def _replace_path(src: Path, dst: Path) -> None:
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst)
    elif dst.exists() or dst.is_symlink():
        dst.unlink()
    src.replace(dst)


def import_layer(storage: Storage, workdir: Path, ref: LayerRef) -> Path:
    """Fetch a layer into ``workdir`` and return its local path ``<workdir>/<layer file name>``.

    Zipped kinds are unpacked (§7.3 and the 1.1.0 release notes), straight from the stored zip when the
    storage is a local file system: if the zip holds an entry named like the layer file
    (``<scene>.SAFE``, ``<name>.dim``), that entry becomes ``<workdir>/<layer file name>``; otherwise
    the whole unzipped content becomes that folder. For DIMAP, ``<name>.data`` is moved
    alongside. ``zip`` and every other extension are downloaded as they are.

    Raises:
        StorageNotFoundError: the layer is not in storage.
        StorageError: unsafe or corrupt zip.
    """
    workdir = Path(workdir)
    file_name, key, ext = ref.file_name, ref.key, ref.ext
    dst = workdir / file_name
    if not is_stored_as_zip(ext):
        storage.download(key, dst)
        return dst
    tmp = Path(tempfile.mkdtemp(dir=workdir, prefix=".import-"))
    try:
        zip_path = storage.local_path(key)  # unzipped where it lies, not copied first
        if zip_path is None:
            zip_path = tmp / "layer.zip"
            storage.download(key, zip_path)
        unzipped = tmp / "content"
        try:
            extract_zip_safely(zip_path, unzipped, archive=storage.uri_of(key))
        except FileNotFoundError as exc:
            if zip_path.exists():
                raise StorageError(f"import of {storage.uri_of(key)} failed: {exc}") from exc
            raise StorageNotFoundError(storage.uri_of(key)) from None  # deleted meanwhile
        candidate = unzipped / file_name
        _replace_path(candidate if candidate.exists() else unzipped, dst)
        if ext == "dim":
            data = unzipped / f"{file_name[: -len('.dim')]}.data"
            if data.exists():
                _replace_path(data, dst.with_suffix(".data"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.debug("imported %s into %s", key, dst)
    return dst


def delete_layer(storage: Storage, ref: LayerRef) -> bool:
    """Delete a stored layer; False when it was already missing (the processor ignores that)."""
    return storage.delete(ref.key)
