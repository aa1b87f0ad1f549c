"""The data directory: where each thing lives, and writes that are atomic, on local disk or S3.

Everything the platform reads or writes goes through `DataLayout`, so a partition's outputs
are found in one place and replaced in one step. The root is a local directory or an object
store prefix (`s3://bucket/prefix`: endpoint, region and credentials from the standard AWS
environment variables); a location is a `pathlib.Path` locally and a `UPath` (fsspec) on S3,
with the same methods.

Atomicity, the same on both (S3 has no rename): a replaceable table directory holds versions
(`v-<time>-<id>/`) and a one-object pointer `_CURRENT` naming the current one. A writer fills a
new version and then replaces the pointer (an atomic rename locally, one PUT on S3); readers
resolve it with `current()`. The version it replaced stays (a reader that resolved it can
finish), as does the version the catalog shows (`pin_published`); older ones are removed.
Write-once directories (deliveries, registry entries) are renamed into place whole locally and
uploaded with their marker file last on S3. Single files are replaced whole (rename or PUT).
A crash leaves only an unreferenced temporary or version, never a half-written output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from upath import UPath

SUCCESS_MARKER = "_SUCCESS"
CURRENT_POINTER = "_CURRENT"
PUBLISHED_POINTER = "_PUBLISHED"
Location = Union[Path, UPath]


def location(root: str | os.PathLike) -> Location:
    """A local directory, or an object store URL such as `s3://bucket/prefix`."""
    text = str(root)
    if "://" in text:
        path = UPath(text)
        register_filesystem(path.fs)
        return path
    return Path(text).expanduser().resolve()


def is_remote(path: Location) -> bool:
    return not isinstance(path, Path)


_filesystems: dict[str, object] = {}


def register_filesystem(fs) -> None:
    """Remember an object store's fsspec filesystem so DuckDB connections can read it."""
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    _filesystems.setdefault(protocol, fs)


def remote_filesystems() -> list:
    return list(_filesystems.values())


_LABEL = re.compile(r"^[0-9a-z][0-9a-z_-]{0,63}$")


def partition_label(partition: object) -> str:
    """The text a partition is filed under (`2025q3`, `2025-08-15`, `2025-07`, `e0042`): only
    lowercase letters, digits, `-` and `_`, so no label can reach outside its folder."""
    label = str(partition)
    if not _LABEL.match(label):
        raise ValueError(f"invalid partition label {label!r}: expected lowercase letters, digits, '-' and '_'")
    return label


def _name(kind: str, value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"invalid {kind} {value!r}: expected lowercase letters, digits and '_'")
    return value


_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class DataLayout:
    """Every path, keyed by job and partition: `landing/<job>[_<feed>]/<partition>`,
    `truth/...` likewise, `warehouse/<job>/<table>/<partition>`, `models/<job>/...`."""

    root: Location

    @classmethod
    def at(cls, root: str | os.PathLike) -> "DataLayout":
        return cls(location(root))

    def landing_area(self, job: str, feed: str | None = None) -> Location:
        """Where a job's deliveries of one feed arrive, one folder per partition."""
        return self.root / "landing" / (_name("job", job) + (f"_{_name('feed', feed)}" if feed else ""))

    def landing(self, job: str, partition: object, feed: str | None = None) -> Location:
        return self.landing_area(job, feed) / partition_label(partition)

    def truth(self, job: str, partition: object, feed: str | None = None) -> Location:
        """Ground truth of the synthetic world: kept apart, never read by training."""
        return self.root / "truth" / (_name("job", job) + (f"_{_name('feed', feed)}" if feed else "")) / partition_label(partition)

    def table_area(self, job: str, name: str) -> Location:
        """A table's folder, one sub-folder per partition."""
        return self.root / "warehouse" / _name("job", job) / _name("table", name)

    def table(self, job: str, name: str, partition: object) -> Location:
        return self.table_area(job, name) / partition_label(partition)

    @property
    def models(self) -> Location:
        return self.root / "models"

    @property
    def catalog(self) -> Location:
        return self.root / "catalog.duckdb"


def _scratch_path() -> Path:
    return Path(os.getenv("PLATFORM_SCRATCH_DIR", tempfile.gettempdir())) / "platform-scratch"


def scratch_dir() -> Path:
    """Local disk for temporaries of object-store writes (PLATFORM_SCRATCH_DIR)."""
    path = _scratch_path()
    path.mkdir(parents=True, exist_ok=True)
    return path


# Libraries that would otherwise write in the user's home or the system temp dir: matplotlib
# caches its font list in ~/.cache (MPLCONFIGDIR moves it; created when first needed);
# onnxruntime keeps a telemetry device id and event store in ~/.cache/Microsoft and a session
# file in the temp dir (ORT_DISABLE_TELEMETRY). Both read these when imported, so they are set
# here, before any job imports them: a job writes only under its data root and the scratch dir.
LIBRARY_ENV = {"MPLCONFIGDIR": str(_scratch_path() / "matplotlib"), "ORT_DISABLE_TELEMETRY": "1"}
os.environ.update({var: value for var, value in LIBRARY_ENV.items() if var not in os.environ})


def current(path: Location) -> Location:
    """Where a table directory's current content is: the version its `_CURRENT` pointer names,
    or the directory itself when it has no pointer (a delivery)."""
    pointer = path / CURRENT_POINTER
    return path / read_json(pointer)["version"] if pointer.exists() else path


def pin_published(version: Location) -> None:
    """Record that this version passed its checks and is what the catalog shows, so it is kept
    while newer ones come and go (a re-run that fails its checks must not remove it)."""
    write_json(version.parent / PUBLISHED_POINTER, {"version": version.name})


def published(path: Location) -> Location | None:
    """The version of a table directory that the catalog shows, if any passed its checks."""
    version = _version_of(path, PUBLISHED_POINTER)
    return path / version if version else None


def _version_of(target: Location, pointer: str) -> str | None:
    path = target / pointer
    return read_json(path)["version"] if path.exists() else None


def _temp_sibling(target: Path) -> Path:
    return target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"


def _remove_stale_temps(target: Path) -> None:
    if target.parent.exists():
        for stale in target.parent.glob(f".{target.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def _upload(local: Path, remote: Location) -> None:
    """Upload a local file, or every file under a local directory (concurrently), to `remote`."""
    if local.is_file():
        remote.fs.put_file(str(local), remote.path)
        return
    files = sorted(p for p in local.rglob("*") if p.is_file())
    if files:
        remote.fs.put([str(f) for f in files], [(remote / f.relative_to(local).as_posix()).path for f in files])


@contextmanager
def _sibling_temp_dir(target: Path) -> Iterator[Path]:
    """An empty hidden sibling of `target` (same filesystem, so it renames into place), removed
    if the block fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = _temp_sibling(target)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextmanager
def _local_temp_dir() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(dir=scratch_dir()))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def atomic_dir(target: Location) -> Iterator[Path]:
    """Yield an empty local directory that becomes `target`'s current version only if the block
    succeeds."""
    version = f"v-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}"
    if is_remote(target):
        with _local_temp_dir() as tmp:
            yield tmp
            _upload(tmp, target / version)
    else:
        with _sibling_temp_dir(target) as tmp:
            yield tmp
            target.mkdir(exist_ok=True)
            tmp.rename(target / version)
    previous = _version_of(target, CURRENT_POINTER)
    write_json(target / CURRENT_POINTER, {"version": version, "previous": previous})
    keep = {version, previous, _version_of(target, PUBLISHED_POINTER), CURRENT_POINTER, PUBLISHED_POINTER}
    for child in target.iterdir():  # older versions, a crashed writer's leftovers, a pre-versioning layout
        if child.name not in keep:
            remove_tree(child)


@contextmanager
def write_once_dir(target: Location, last: str) -> Iterator[Path]:
    """For directories that are written once and read in place (deliveries, registry entries):
    the file named `last` is the completion marker. Locally the directory is renamed into
    place whole; on an object store its files are uploaded with `last` after all others."""
    if not is_remote(target):
        with _sibling_temp_dir(target) as tmp:
            yield tmp
            old = None
            if target.exists():
                old = _temp_sibling(target)
                target.rename(old)
            tmp.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    with _local_temp_dir() as tmp:
        content = tmp / "content"
        content.mkdir()
        yield content
        remove_tree(target)
        marker = (content / last).rename(tmp / last)
        _upload(content, target)
        _upload(marker, target / last)


@contextmanager
def atomic_file(target: Location) -> Iterator[Path]:
    """Yield a local temporary path; it replaces `target` on success (one PUT on S3)."""
    if is_remote(target):
        with _local_temp_dir() as tmp:
            yield tmp / target.name
            _upload(tmp / target.name, target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = _temp_sibling(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(target: Location, payload: object) -> None:
    with atomic_file(target) as tmp:
        tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Location) -> dict:
    return json.loads(path.read_text())


def remove_tree(path: Location) -> None:
    if is_remote(path):
        if path.exists():
            path.fs.rm(path.path, recursive=True)
    elif path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def dir_bytes(path: Location) -> int:
    if is_remote(path):
        return int(path.fs.du(path.path))
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
