"""Helpers shared by the benchmark scripts: process and CPU figures from /proc (Linux
only), percentiles, and step lists on the command line."""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import aiohttp
import numpy as np
import numpy.typing as npt

__all__ = [
    "CLK_TCK",
    "core_busy_seconds",
    "counts",
    "cpu_seconds",
    "free_port",
    "own_cpu_seconds",
    "percentile",
    "pin",
    "rss_kb",
    "start_server",
    "token",
]

CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def pin(pid: int, cpu: int) -> bool:
    """Pin every thread of ``pid`` to ``cpu`` (sched_setaffinity on a pid moves only its main
    thread; threads started before that keep their old mask)."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tids = [pid]
    ok = False
    for tid in tids:
        try:
            os.sched_setaffinity(tid, {cpu})
            ok = True
        except OSError:
            continue
    return ok


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads (``/proc/<pid>/stat`` fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kb(pid: int) -> int:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def core_busy_seconds() -> dict[int, float]:
    """Busy time (all processes, incl. interrupts) per CPU from ``/proc/stat``."""
    out: dict[int, float] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *raw = line.split()
            v = [int(x) for x in raw[:8]]  # user nice system idle iowait irq softirq steal
            out[int(name[3:])] = (sum(v) - v[3] - v[4]) / CLK_TCK
    return out


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def counts(flag: str) -> Callable[[str], list[int]]:
    """An argparse ``type`` for ``flag``: a comma list of increasing positive integers."""

    def parse(text: str) -> list[int]:
        try:
            steps = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: not a list of integers: {text!r}") from None
        if not steps or any(b <= a for a, b in itertools.pairwise(steps)) or steps[0] < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be increasing positive integers")
        return steps

    return parse


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    """``callscope serve`` on 127.0.0.1:``port`` (transcription off, warnings only), once
    healthy; its log goes next to ``data_dir``."""
    log = (data_dir.parent / "server.log").open("ab")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "callscope", "serve", "--port", str(port)),
            *("--data-dir", str(data_dir), "--log-level", "WARNING", "--asr-workers", "0"),
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start; see " + str(data_dir.parent / "server.log"))


async def token(
    http: aiohttp.ClientSession, base: str, data_dir: Path, app: tuple[str, str] | None = None
) -> str:
    """An access token of the demo supervisor (password grant)."""
    creds = json.loads((data_dir / "demo-credentials.json").read_text())
    client_id, secret = app or (creds["clientId"], creds["clientSecret"])
    async with http.post(
        base + "/restapi/oauth/token",
        headers={"Authorization": aiohttp.encode_basic_auth(client_id, secret)},
        data={
            "grant_type": "password",
            "username": creds["username"],
            "password": creds["password"],
        },
    ) as r:
        return str((await r.json())["access_token"])


def logistic_fit(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    l2: float,
    weights: npt.NDArray[np.float64] | None = None,
) -> tuple[npt.NDArray[np.float64], float]:
    """Logistic regression with an L2 penalty (not on the bias) and optional sample weights,
    by Newton iterations: (weights per column, bias). Deterministic."""
    w8 = np.ones(len(y)) if weights is None else weights
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (w8 * (p - y)) + reg * w
        hess = (xb * (w8 * p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-6 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])
