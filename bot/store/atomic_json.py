"""A TinyDB storage that can be killed at any instant and still load, and that reads once.

TinyDB's stock `JSONStorage` rewrites the file in place, so a kill mid-write leaves half a
JSON document; its `CachingMiddleware` keeps writes in memory, so a kill loses them. This
storage keeps the whole database in memory after the first read (reads are free) and makes
every write durable and atomic: write a temporary file, fsync it, rename it over the old one,
fsync the directory. `deferred()` groups many writes into one flush for bulk imports.

A second process opening the same file for writing gets `StoreBusy` instead of racing: an
exclusive `flock` on a sidecar lock file, released by the kernel if the holder dies. What the
operating system refuses (a full disk, a read-only file system, a permission) becomes a
`StoreIOError` naming the file and the fix, never a bare `OSError`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from bot.errors import StoreBusy, StoreCorrupt, StoreIOError

_FIXES = {
    errno.ENOSPC: "the disk is full: free some space, then start rankbot again",
    errno.EDQUOT: "the disk quota is used up: free some space, then start rankbot again",
    errno.EROFS: "the file system is read-only: point [store] path or --db at a writable place",
    errno.EACCES: "permission denied: check the owner and mode of the file and its directory",
    errno.EPERM: "permission denied: check the owner and mode of the file and its directory",
}


@contextlib.contextmanager
def _translated(action: str, path: Path) -> Iterator[None]:
    """Turn what the operating system refuses into a `StoreIOError` that says what to do."""
    try:
        yield
    except (StoreBusy, StoreCorrupt):
        raise
    except OSError as exc:
        fix = _FIXES.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise StoreIOError(f"cannot {action} the database {path}: {fix}") from exc


class AtomicJSONStorage(Storage):
    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._data: dict[str, Any] | None = None
        self._loaded = False
        self._defer_depth = 0
        self._dirty = False
        self._lock_fd: int | None = None
        if not readonly:
            with _translated("open", self.path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._lock_fd = _acquire_lock(self.path)

    def read(self) -> dict[str, Any] | None:
        if not self._loaded:
            self._data = self._load()
            self._loaded = True
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        if self.readonly:
            raise PermissionError(f"{self.path} is open read-only")
        self._data = data
        self._loaded = True
        if self._defer_depth:
            self._dirty = True
        else:
            self._flush()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Hold writes in memory until the outermost block ends, then flush once."""
        self._defer_depth += 1
        try:
            yield
        finally:
            self._defer_depth -= 1
            if self._defer_depth == 0 and self._dirty:
                self._flush()

    def close(self) -> None:
        if self._dirty and not self._defer_depth:
            self._flush()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _load(self) -> dict[str, Any] | None:
        with _translated("read", self.path):
            try:
                raw = self.path.read_bytes()
            except FileNotFoundError:
                return None
        if not raw.strip():
            return None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise StoreCorrupt(f"{self.path} is not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise StoreCorrupt(f"{self.path} does not hold a rankbot database")
        return data

    def _flush(self) -> None:
        with _translated("write", self.path):
            self._write_atomically()

    def _write_atomically(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        payload = json.dumps(self._data, separators=(",", ":"), ensure_ascii=False).encode()
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._dirty = False


def _acquire_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise StoreBusy(
            f"{path} is in use by another rankbot process (pid {holder}); stop it first, "
            "or point this command at another file with --db"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd
