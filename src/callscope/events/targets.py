"""Which addresses a WebHook may reach: public ones, unless a lab allows private ones.

Whoever holds a token chooses a subscription's address, and callscope POSTs to it from
inside the operator's network. Without a rule it would reach loopback services, the LAN,
the cloud metadata service (169.254.169.254) and callscope's own port, and its failure
messages would map them (server-side request forgery: OWASP API Security Top 10 2023,
API7). The rule:

* **Public addresses only** by default: :func:`classify` sorts an address into
  :class:`AddressKind`; only ``PUBLIC`` passes. IPv6 forms that carry an IPv4 address
  (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, NAT64 ``64:ff9b::/96``,
  6to4 ``2002::/16``) are judged by the IPv4 address they carry.
* **Labs** (``events_webhook_allow_private``) may allow loopback, private (RFC 1918,
  fc00::/7, 100.64.0.0/10) and link-local targets — RingCentral's own samples subscribe
  ``http://localhost`` receivers. Unspecified, multicast and reserved addresses stay refused.
* **Never this server's own port** on one of its own addresses, lab or not: a
  subscription must not make callscope call its own API.

The rule is applied to the address actually connected to, after DNS resolution
(``webhook.GuardedResolver``), not to the name in the URL: a name that resolves to a public
address when the subscription is made and to 127.0.0.1 later (DNS rebinding) is refused
then. Sans-I/O but for :func:`is_local_address`, which asks the kernel.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "LAB_KINDS",
    "AddressKind",
    "IPAddress",
    "Refusal",
    "TargetPolicy",
    "classify",
    "is_local_address",
    "parse_ip",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressKind(enum.Enum):
    PUBLIC = "public"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link-local"
    PRIVATE = "private"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    RESERVED = "reserved"


#: what ``events_webhook_allow_private`` lets through besides public addresses
LAB_KINDS = frozenset({AddressKind.LOOPBACK, AddressKind.LINK_LOCAL, AddressKind.PRIVATE})

_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")  # RFC 6598
)
#: unique local (RFC 4193) and the deprecated site-local (RFC 3879), which ``is_global``
#: calls global
_PRIVATE_V6 = tuple(ipaddress.IPv6Network(n) for n in ("fc00::/7", "fec0::/10"))
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_COMPAT = ipaddress.IPv6Network("::/96")  # IPv4-compatible (RFC 4291 §2.5.5.1, deprecated)


def parse_ip(text: str) -> IPAddress | None:
    """The address in ``text`` (``[...]`` and an IPv6 zone allowed), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _carried_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form stands for, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    bare = ipaddress.IPv6Address(int(ip))  # without a zone
    if bare in _NAT64 or (bare in _COMPAT and int(bare) > 1):  # not :: nor ::1
        return ipaddress.IPv4Address(int(bare) & 0xFFFF_FFFF)
    return None


def classify(ip: IPAddress) -> AddressKind:
    """The kind of ``ip`` (IANA special-purpose registries, RFC 6890).

    ``ipaddress``'s ``is_global`` alone is not enough: it calls multicast, site-local and
    6to4 forms of private addresses global, so those are checked first.
    """
    if isinstance(ip, ipaddress.IPv6Address):
        v4 = _carried_v4(ip)
        if v4 is not None:
            kind = classify(v4)
            if kind is not AddressKind.PUBLIC or ip.sixtofour is None:
                return kind
        ip = ipaddress.IPv6Address(int(ip))  # the zone does not change the kind
    if ip.is_unspecified:
        return AddressKind.UNSPECIFIED
    if ip.is_loopback:
        return AddressKind.LOOPBACK
    if ip.is_link_local:
        return AddressKind.LINK_LOCAL
    if ip.is_multicast:
        return AddressKind.MULTICAST
    private = _PRIVATE_V4 if isinstance(ip, ipaddress.IPv4Address) else _PRIVATE_V6
    if any(ip in net for net in private):
        return AddressKind.PRIVATE
    if ip.is_global and not ip.is_reserved:
        return AddressKind.PUBLIC
    return AddressKind.RESERVED  # broadcast, 0.0.0.0/8, 240/4, documentation, benchmarking


def is_local_address(ip: IPAddress) -> bool:
    """Whether ``ip`` is one of this host's addresses: the kernel lets a socket bind only
    to those (port 0: nothing is taken). Portable, and no interface list to keep current."""
    family = socket.AF_INET6 if isinstance(ip, ipaddress.IPv6Address) else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
    except OSError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an address is refused. ``detail`` names the address: for the server log only
    (the API caller must not learn what a name resolves to)."""

    detail: str
    #: the address is this server's own port, refused even in labs
    own_server: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetPolicy:
    """Which ``ip:port`` a WebHook request may connect to.

    Attributes:
        allow_private: also loopback, private and link-local addresses (labs).
        own_port: the port this server listens on (None: none to protect).
        own_host: the address it listens on; a wildcard (``0.0.0.0``, ``::``, empty) or a
            name stands for every local address.
        is_local: whether an address is one of this host's (injectable for tests).
    """

    allow_private: bool = False
    own_port: int | None = None
    own_host: str = ""
    is_local: Callable[[IPAddress], bool] = is_local_address

    def _own(self, ip: IPAddress, port: int) -> bool:
        if self.own_port is None or port != self.own_port:
            return False
        bound = parse_ip(self.own_host)
        if bound is None or bound.is_unspecified:
            return self.is_local(ip)
        return ip == bound

    def refusal(self, ip: IPAddress, port: int) -> Refusal | None:
        """Why connecting to ``ip:port`` is refused, or None if it is allowed."""
        if isinstance(ip, ipaddress.IPv6Address):
            v4 = _carried_v4(ip)
            if v4 is not None and self._own(v4, port):
                return Refusal(f"{ip} port {port} is this server", own_server=True)
        if self._own(ip, port):
            return Refusal(f"{ip} port {port} is this server", own_server=True)
        kind = classify(ip)
        if kind is AddressKind.PUBLIC or (self.allow_private and kind in LAB_KINDS):
            return None
        return Refusal(f"{ip} is a {kind.value} address")
