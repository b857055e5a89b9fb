"""One `callscope serve` boot in the fork server, before it forks any server.

Imported only by the fork server (``forkserve.PRELOAD``). A server's first boot in a process
spends most of its CPU filling caches that last for the life of the process: SQLAlchemy's
mapper paths and ORM compile state, the first ``gc.collect`` over every object imported, the
migrations checked. Booted once here (a fresh data directory, no transcription, the server
stopped by SIGTERM as soon as ``/health`` answers), every server forked afterwards starts with
those caches filled: about 0.25 → 0.09 s of a core per boot, and a test run boots some three
hundred servers. The server code run is the same; the fork server keeps no thread, handler or
file of the boot (checked below: a boot that leaves a thread behind fails the whole run rather
than forking servers from a process with a thread in it).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from callscope.cli import main
from tests.conftest import FAST_SCRYPT_ENV, free_port


def _stop_when_healthy(port: int, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                break
        except OSError:
            time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGTERM)  # the server drains and main() returns


def warm() -> None:
    """Boot and stop one server in this process (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="callscope-warmup-"))
    saved_env = dict(os.environ)
    os.environ.update(
        {"CALLSCOPE_ASR_WORKERS": "0", "CALLSCOPE_ASR_PARTIAL_INTERVAL_MS": "0", **FAST_SCRYPT_ENV}
    )
    port = free_port()
    waiter = threading.Thread(target=_stop_when_healthy, args=(port, 60.0), daemon=True)
    before = set(threading.enumerate())
    try:
        waiter.start()
        argv = ["serve", "--port", str(port), "--data-dir", str(root / "data")]
        code = main([*argv, "--log-level", "ERROR"])
        waiter.join(10)
        if code != 0:
            raise RuntimeError(f"the fork server's warm-up boot exited {code}")
        left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
        if left:
            raise RuntimeError(f"the warm-up boot left threads behind: {left}")
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        # each forked server sets its own logging up (basicConfig is a no-op once the root
        # logger has a handler)
        for handler in logging.root.handlers[:]:
            logging.root.removeHandler(handler)
        logging.root.setLevel(logging.WARNING)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        shutil.rmtree(root, ignore_errors=True)


warm()
