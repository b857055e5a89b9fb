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

__all__ = ["private_dir", "private_file", "warn_if_exposed"]

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
