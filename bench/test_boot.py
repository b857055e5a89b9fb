"""What one test server costs: first start to ``/health``, and a password login.

Issue #19: the test suite starts about a hundred servers (``tests/conftest.py`` ``Server``)
and logs in hundreds of times. This measures, interleaved so that a shared machine's load
falls on every variant alike, a server started

* ``exec``: as ``python -m callscope serve`` (imports everything first), or
* ``fork``: forked from a process that imported callscope once (``tests/helpers/forkserve.py``),

each hashing passwords at the production scrypt cost (N=2^17) or the tests' (N=2^10).

Reading the table
-----------------
start     median seconds from spawning to the first 200 on /health (demo account seeded)
login     median seconds of one password grant of the demo supervisor

Run from the repository root: ``python bench/test_boot.py`` (about a minute) or ``--rounds 8``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import EXEC_SERVERS_ENV, Server


def measure(*, fork: bool, production_scrypt: bool) -> tuple[float, float]:
    if fork:
        os.environ.pop(EXEC_SERVERS_ENV, None)
    else:
        os.environ[EXEC_SERVERS_ENV] = "1"
    data = Path(tempfile.mkdtemp(prefix="callscope-bench-")) / "data"
    t0 = time.monotonic()
    server = Server(data, production_scrypt=production_scrypt).start()
    started = time.monotonic() - t0
    try:
        t0 = time.monotonic()
        server.login()
        return started, time.monotonic() - t0
    finally:
        server.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    variants = [(f, p) for f in (False, True) for p in (True, False)]
    seen: dict[tuple[bool, bool], list[tuple[float, float]]] = {v: [] for v in variants}
    for _ in range(args.rounds):
        for fork, production in variants:
            seen[fork, production].append(measure(fork=fork, production_scrypt=production))
    print(f"{'start':>6} {'scrypt':>7} {'start s':>8} {'login s':>8}   ({args.rounds} rounds)")
    for (fork, production), runs in seen.items():
        start = statistics.median(r[0] for r in runs)
        login = statistics.median(r[1] for r in runs)
        cost = "2^17" if production else "2^10"
        print(f"{'fork' if fork else 'exec':>6} {cost:>7} {start:8.2f} {login:8.3f}")


if __name__ == "__main__":
    main()
