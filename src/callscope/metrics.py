"""A small Prometheus registry (text exposition format 0.0.4).

Hot-path counts live in plain per-call integers; they are folded into the exported totals
at scrape time by collectors, so a Media message costs no metric bookkeeping.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

__all__ = ["Counter", "Gauge", "Histogram", "Registry"]

Labels = tuple[tuple[str, str], ...]


def _fmt_labels(labels: Labels, extra: tuple[str, str] | None = None) -> str:
    items = list(labels) + ([extra] if extra else [])
    if not items:
        return ""
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in items
    )
    return "{" + body + "}"


def _num(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


@dataclass
class Counter:
    name: str
    help: str
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, **labels: str) -> float:
        return self.values.get(tuple(sorted(labels.items())), 0.0)

    def render(self, live: Iterable[tuple[Labels, float]] = ()) -> list[str]:
        merged = dict(self.values)
        for key, v in live:
            merged[key] = merged.get(key, 0.0) + v
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        out += [f"{self.name}{_fmt_labels(k)} {_num(v)}" for k, v in sorted(merged.items())]
        return out


@dataclass
class Gauge:
    name: str
    help: str
    read: Callable[[], float]

    def render(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {_num(self.read())}",
        ]


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...]
    counts: list[int] = field(init=False)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.buckets = tuple(sorted(self.buckets))
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float, count: int = 1) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += count
        self.total += value * count
        self.n += count

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        cumulative = 0
        for bound, c in zip((*self.buckets, float("inf")), self.counts, strict=True):
            cumulative += c
            out.append(f'{self.name}_bucket{{le="{_num(bound)}"}} {cumulative}')
        out.append(f"{self.name}_sum {_num(self.total)}")
        out.append(f"{self.name}_count {self.n}")
        return out


LiveCollector = Callable[[], Iterable[tuple[Labels, float]]]


class Registry:
    """Holds metrics and renders them; ``live`` adds per-call values at scrape time."""

    def __init__(self) -> None:
        self._items: list[tuple[Counter | Gauge | Histogram, LiveCollector | None]] = []

    def counter(self, name: str, help: str, live: LiveCollector | None = None) -> Counter:
        c = Counter(name, help)
        self._items.append((c, live))
        return c

    def gauge(self, name: str, help: str, read: Callable[[], float]) -> Gauge:
        g = Gauge(name, help, read)
        self._items.append((g, None))
        return g

    def histogram(self, name: str, help: str, buckets: Iterable[float]) -> Histogram:
        h = Histogram(name, help, tuple(buckets))
        self._items.append((h, None))
        return h

    def render(self) -> str:
        lines: list[str] = []
        for metric, live in self._items:
            if isinstance(metric, Counter):
                lines += metric.render(live() if live else ())
            else:
                lines += metric.render()
        return "\n".join(lines) + "\n"
