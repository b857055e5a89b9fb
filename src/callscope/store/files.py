"""Files at rest are the server user's alone.

Recordings, the SQLite database and the demo credentials hold personal data and secrets.
What callscope creates gets an explicit mode, whatever the process umask: directories 0700
(:func:`private_dir`), files 0600 (:func:`private_file`; the WAV writer and the demo
credentials open theirs the same way). SQLite creates its ``-wal`` and ``-shm`` files with
the mode of the database file, so creating that file first covers them.

A directory that already exists is left as the operator made it (a shared recordings mount
may be meant to be group-readable); :func:`warn_if_exposed` says so once at start when the
data directory is open to group or others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

from callscope.errors import ConfigError

__all__ = ["check_data_dir", "private_dir", "private_file", "warn_if_exposed"]

logger = logging.getLogger("callscope.store")

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> bool:
    """Create ``path`` and its missing parents with mode 0700.

    Returns:
        Whether ``path`` was missing (an existing directory is not changed).
    """
    missing: list[Path] = []
    at = path
    while not at.exists() and at != at.parent:
        missing.append(at)
        at = at.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:  # another process (a cluster node, a CLI) made it meanwhile
            continue
        os.chmod(d, DIR_MODE)  # mkdir's mode is filtered by the umask; this one is not
    return bool(missing)


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing one is kept)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def check_data_dir(path: Path) -> None:
    """Create the data directory and its ``recordings/`` (0700) when missing, and prove a
    file can be written in each (``os.access`` answers yes to root on a read-only mount).

    Raises:
        ConfigError: ``path`` and why: not a directory, cannot be created, not writable.
    """
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is not a directory")
    for directory in (path, path / "recordings"):
        try:
            private_dir(directory)
        except OSError as exc:
            raise ConfigError(f"{directory}: cannot be created ({exc.strerror or exc})") from exc
        probe = directory / f".callscope-write-check-{os.getpid()}"
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
            os.unlink(probe)
        except OSError as exc:
            raise ConfigError(f"{directory}: not writable ({exc.strerror or exc})") from exc


def warn_if_exposed(path: Path) -> None:
    """Log a warning when group or others may enter or read the directory ``path``."""
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "data directory %s has mode %04o: other users may read recordings, the "
                "database and credentials in it; chmod 700 it unless that is meant",
                path.resolve(),
                mode,
            )
