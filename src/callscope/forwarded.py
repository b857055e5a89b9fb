"""What a request looked like before a trusted proxy: public scheme, host and client address.

Sans-I/O: header values in, a :class:`PublicView` out. The aiohttp middleware
(:mod:`callscope.api.proxy`) and the gRPC listener are thin adapters around :func:`resolve`.

**Trust.** Nothing here is read unless the TCP peer is in ``trusted_proxies``: anyone else
could write any of these fields (RFC 7239 §8.1). From a trusted peer:

* ``Forwarded`` (RFC 7239 §4), when present and its last element parses, is used and the
  X-Forwarded-* fields are ignored. The last element is the one our peer appended; the walk
  goes leftwards from it while an element's ``for`` is itself a trusted proxy (a hop between
  our own proxies) and there is an element left of it. The element where it stops is the
  one the outermost trusted proxy appended about the real client: its ``proto``, ``host``
  and ``for`` are the public scheme, host and client. An element that does not parse stops
  the walk at the element right of it.
* Otherwise ``X-Forwarded-For`` names the client: its rightmost address that is not a trusted
  proxy (entries left of that one were written by the client). An entry that is not an IP
  address stops the walk, and the last trusted hop stands as the client.
  ``X-Forwarded-Proto``, ``-Host`` and ``-Port`` are taken as our peer set them: the last
  value of each. A port in ``-Host`` wins over ``-Port``; ``-Port`` also applies to the
  ``Host`` header when ``-Host`` is absent.
* A value that does not parse is ignored on its own (the request's own value stands): proto
  must be http or https (ws and wss are read as those), host a DNS name, an IPv4 address or
  a bracketed IPv6 address with an optional port, port 1-65535. A port that is the public
  scheme's default is dropped.

A trusted proxy must set or remove both families of fields: callscope cannot tell a value the
proxy wrote from one the client sent that the proxy let through (``deploy/nginx.conf`` sets
X-Forwarded-* and clears ``Forwarded``).

Written here rather than taken from ``aiohttp-remotes``: its strict middlewares want one
trusted list per hop and read neither ``X-Forwarded-Port`` nor gRPC metadata.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from callscope.errors import ConfigError

__all__ = ["FIELDS", "PublicView", "TrustedProxies", "parse_forwarded", "parse_ip", "resolve"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: the header fields :func:`resolve` reads, lower-case
FIELDS = (
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
)

_DEFAULT_PORT = {"http": 80, "https": 443}
_PROTO = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: a value left unquoted: a token, or ``host:port`` and ``[v6]:port``, which RFC 7239 wants
#: quoted but proxies send bare (the value is checked for what it is afterwards)
_BARE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z:\[\]-]+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST = re.compile(
    rf"(?:(?P<name>{_LABEL}(?:\.{_LABEL})*\.?)|\[(?P<v6>[0-9A-Fa-f:.]+)\])(?::(?P<port>\d{{1,5}}))?"
)
_PORT = re.compile(r"\d{1,5}")


class TrustedProxies:
    """Addresses and networks whose forwarding headers are believed."""

    __slots__ = ("networks",)

    def __init__(self, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self.networks = tuple(networks)

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """``"127.0.0.1, 10.0.0.0/8, ::1"``; empty trusts nobody.

        Raises:
            ConfigError: an entry is neither an IP address nor a CIDR network.
        """
        networks = []
        for item in text.split(","):
            if not item.strip():
                continue
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as exc:
                raise ConfigError(
                    f"trusted_proxies: {item.strip()!r} is not an IP address or network: "
                    "use comma-separated addresses or CIDRs, e.g. 127.0.0.1,10.0.0.0/8"
                ) from exc
        return cls(networks)

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return any(address in net for net in self.networks)


@dataclass(frozen=True, slots=True)
class PublicView:
    """The request as the client made it."""

    #: ``http`` or ``https``
    scheme: str
    #: ``host[:port]`` as it goes in a URL (no port when it is the scheme's default)
    host: str
    #: the client's IP address (the nearest trusted hop when the headers name none)
    remote: str


def parse_ip(text: str | None) -> IPAddress | None:
    """An address as X-Forwarded-For or a ``for=`` node writes it (RFC 7239 §6: ``1.2.3.4``,
    ``1.2.3.4:80``, ``[2001:db8::1]:80``; bare IPv6 too), IPv4-mapped IPv6 as IPv4; else None.
    """
    if not text:
        return None
    t = text.strip()
    if t.startswith("["):
        end = t.find("]")
        rest = t[end + 1 :] if end > 0 else "x"
        if rest and not (rest[0] == ":" and _PORT.fullmatch(rest[1:])):
            return None
        t = t[1:end]
    elif t.count(":") == 1:
        t, _, port = t.partition(":")
        if not _PORT.fullmatch(port):
            return None
    try:
        address = ipaddress.ip_address(t)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at ``sep`` outside quoted strings (RFC 7230 §3.2.6)."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _element(text: str) -> dict[str, str] | None:
    """One ``forwarded-element`` (RFC 7239 §4): ``;``-separated ``token=value`` pairs, each
    parameter at most once (values quoted, or bare: see ``_BARE``); None when it does not
    parse."""
    pairs: dict[str, str] = {}
    for pair in _split(text, ";"):
        name, eq, value = pair.strip().partition("=")
        name = name.lower()
        if not eq or not _TOKEN.fullmatch(name) or name in pairs:
            return None
        if _BARE.fullmatch(value):
            pairs[name] = value
        elif m := _QUOTED.fullmatch(value):
            pairs[name] = re.sub(r"\\(.)", r"\1", m.group(1))
        else:
            return None
    return pairs


def parse_forwarded(values: Sequence[str]) -> list[dict[str, str] | None]:
    """The elements of every ``Forwarded`` field, in order; None for one that does not parse.

    Several fields are one comma-separated list (RFC 7230 §3.2.2); empty elements are skipped.
    """
    return [_element(e) for e in _split(",".join(values), ",") if e.strip()]


def _proto(value: str | None) -> str | None:
    return _PROTO.get(value.strip().lower()) if value else None


def _host(value: str | None) -> tuple[str, int | None] | None:
    """``(name, port)`` of a ``host[:port]`` value; IPv6 names keep their brackets."""
    if not value or len(value) > 260:
        return None
    m = _HOST.fullmatch(value.strip())
    if m is None:
        return None
    port = int(m["port"]) if m["port"] else None
    if port is not None and not 0 < port < 65536:
        return None
    if m["v6"] is not None:
        try:
            ipaddress.IPv6Address(m["v6"])
        except ValueError:
            return None
        return f"[{m['v6'].lower()}]", port
    return m["name"].lower(), port


def _port(value: str | None) -> int | None:
    if not value or not _PORT.fullmatch(value.strip()):
        return None
    port = int(value)
    return port if 0 < port < 65536 else None


def _last(values: Sequence[str]) -> str | None:
    """The last entry of a comma-separated field, several fields being one list."""
    items = [v.strip() for v in ",".join(values).split(",")]
    return items[-1] if items and items[-1] else None


def _from_forwarded(
    values: Sequence[str], peer: IPAddress, trusted: TrustedProxies
) -> tuple[dict[str, str], IPAddress] | None:
    """The element describing the client and the client's address, or None when the last
    element is absent or does not parse."""
    elements = parse_forwarded(values)
    if not elements or elements[-1] is None:
        return None
    chosen: dict[str, str] = elements[-1]
    nearest = peer  # the last address known to be a trusted proxy
    for element in reversed(elements):
        if element is None:
            return chosen, nearest
        chosen = element
        address = parse_ip(element.get("for"))
        if address is None or address not in trusted:
            return chosen, address or nearest
        nearest = address
    return chosen, nearest


def _client(values: Sequence[str], peer: IPAddress, trusted: TrustedProxies) -> IPAddress:
    """The rightmost X-Forwarded-For address that is not a trusted proxy."""
    nearest = peer
    for entry in reversed(",".join(values).split(",")):
        address = parse_ip(entry)
        if address is None:
            return nearest
        if address not in trusted:
            return address
        nearest = address
    return nearest


def resolve(
    *,
    peer: str | None,
    scheme: str,
    host: str,
    headers: Mapping[str, Sequence[str]],
    trusted: TrustedProxies,
) -> PublicView | None:
    """The public view of a request, or None when its peer is not a trusted proxy.

    Args:
        peer: the TCP peer's address.
        scheme: the scheme the request reached this server with.
        host: its ``Host`` header (or the local address).
        headers: the values of each of :data:`FIELDS` present (lower-case names), in order.
        trusted: the proxies whose headers are believed.
    """
    peer_ip = parse_ip(peer)
    if peer_ip is None or peer_ip not in trusted:
        return None
    forwarded = _from_forwarded(headers.get("forwarded", ()), peer_ip, trusted)
    port: int | None = None
    if forwarded is not None:
        element, client = forwarded
        proto = _proto(element.get("proto"))
        public_host = _host(element.get("host"))
    else:
        client = _client(headers.get("x-forwarded-for", ()), peer_ip, trusted)
        proto = _proto(_last(headers.get("x-forwarded-proto", ())))
        public_host = _host(_last(headers.get("x-forwarded-host", ())))
        port = _port(_last(headers.get("x-forwarded-port", ())))
    public_scheme = proto or scheme
    if public_host is None:
        own = _host(host)
        if own is None:  # a Host header we cannot read: left as it came
            return PublicView(public_scheme, host, str(client))
        name, own_port = own
        port = port or own_port
    else:
        name, host_port = public_host
        port = host_port or port
    if port is None or port == _DEFAULT_PORT.get(public_scheme):
        return PublicView(public_scheme, name, str(client))
    return PublicView(public_scheme, f"{name}:{port}", str(client))
