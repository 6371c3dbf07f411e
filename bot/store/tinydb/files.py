"""The TinyDB backend's files: the lock, atomic whole-file writes, and what the OS refuses.

Three files share the database path `P` (`[store] path` / `--db`):

- `P`: the base, a TinyDB JSON document (`{table: {id: document}}`) holding the state as of
  commit `meta.seq`; rewritten only by compaction (temporary file, fsync, rename, fsync of
  the directory), so a kill at any instant leaves the old base or the new one;
- `P.journal`: every commit since, appended (`bot.store.tinydb.journal`);
- `P.lock`: an exclusive `flock` held by the one process that writes (`P` taken through
  symlinks, `real_path`, so every name of one database shares one lock). A second writer gets
  `StoreBusy` instead of racing; the kernel releases the lock if the holder dies. It is a
  sidecar, not the base itself, because compaction replaces the base (a lock on a replaced
  inode protects nothing) and because rankbot before schema 3 locked the same file, so an old
  and a new rankbot exclude each other too.

Every file is created 0600 (the database holds Slack bot tokens), and a rewritten base keeps
the mode the operator gave it. What the operating system refuses (a full disk, a read-only
file system, a permission) becomes a `StoreIOError` naming the file and the fix, never a
bare `OSError`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from bot.errors import StoreBusy, StoreCorrupt, StoreIOError

_FIXES = {
    errno.ENOSPC: "the disk is full: free some space, then start rankbot again",
    errno.EDQUOT: "the disk quota is used up: free some space, then start rankbot again",
    errno.EROFS: "the file system is read-only: point [store] path or --db at a writable place",
    errno.EACCES: "permission denied: check the owner and mode of the file and its directory",
    errno.EPERM: "permission denied: check the owner and mode of the file and its directory",
}


FILE_MODE = 0o600
"""New database files are readable by their owner only: they hold Slack bot tokens."""


def real_path(path: Path) -> Path:
    """The file a database path names, through symlinks: `alias.json -> db.json` must share
    `db.json`'s lock and journal, or two processes would write one database at once."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def journal_path(path: Path) -> Path:
    return path.with_name(path.name + ".journal")


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextlib.contextmanager
def translated(action: str, path: Path) -> Iterator[None]:
    """Turn what the operating system refuses into a `StoreIOError` that says what to do."""
    try:
        yield
    except (StoreBusy, StoreCorrupt):
        raise
    except OSError as exc:
        raise io_error(action, path, exc) from exc


def io_error(action: str, path: Path, exc: OSError) -> StoreIOError:
    fix = _FIXES.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return StoreIOError(f"cannot {action} the database {path}: {fix}")


def write_atomically(path: Path, chunks: Iterable[bytes]) -> int:
    """Replace `path` with `chunks`: temporary file, fsync, rename, fsync of the directory.
    Returns the bytes written.

    The new file gets the mode of the one it replaces (an operator's 0600 stays 0600), or
    `FILE_MODE` for a new database: it holds Slack bot tokens. A write that fails (a full
    disk) removes its temporary file, which would otherwise keep the disk full."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = FILE_MODE
    size = 0
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with open(fd, "wb") as handle:
            os.fchmod(fd, mode)  # whatever the umask or an earlier temporary file said
            for chunk in chunks:
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
    return size


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def acquire_lock(path: Path) -> int:
    """Hold the database's write lock (see the module docstring); returns its descriptor."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, FILE_MODE)
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
