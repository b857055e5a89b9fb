"""Process and CPU figures from /proc, shared by the benchmark scripts (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["CLK_TCK", "core_busy_seconds", "cpu_seconds", "own_cpu_seconds", "pin", "rss_kb"]

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
