"""The WebHook address policy (events/targets.py) and the client that keeps it
(events/webhook.py): the classifier over many spellings, the own-port rule, the guarded
resolver, and real requests to a real receiver on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from callscope.errors import WebhookTargetRefused
from callscope.events.targets import (
    AddressKind,
    IPAddress,
    TargetPolicy,
    classify,
    is_local_address,
    parse_ip,
)
from callscope.events.webhook import GuardedResolver, WebhookClient, read_at_most
from tests.conftest import free_port, serve_local

K = AddressKind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("8.8.8.8", K.PUBLIC),
        ("1.1.1.1", K.PUBLIC),
        ("2606:4700:4700::1111", K.PUBLIC),
        ("127.0.0.1", K.LOOPBACK),
        ("127.255.255.254", K.LOOPBACK),
        ("::1", K.LOOPBACK),
        ("169.254.169.254", K.LINK_LOCAL),  # cloud metadata
        ("169.254.0.1", K.LINK_LOCAL),
        ("fe80::1", K.LINK_LOCAL),
        ("fe80::1%eth0", K.LINK_LOCAL),
        ("febf::1", K.LINK_LOCAL),
        ("10.0.0.1", K.PRIVATE),
        ("172.16.0.1", K.PRIVATE),
        ("172.31.255.255", K.PRIVATE),
        ("192.168.1.1", K.PRIVATE),
        ("100.64.0.1", K.PRIVATE),  # CGNAT, which is_private misses
        ("100.127.255.254", K.PRIVATE),
        ("fc00::1", K.PRIVATE),
        ("fd12:3456::1", K.PRIVATE),
        ("fec0::1", K.PRIVATE),  # site-local, which is_global calls global
        ("0.0.0.0", K.UNSPECIFIED),
        ("::", K.UNSPECIFIED),
        ("224.0.0.1", K.MULTICAST),  # is_global says True
        ("239.255.255.250", K.MULTICAST),
        ("ff02::1", K.MULTICAST),
        ("255.255.255.255", K.RESERVED),
        ("240.0.0.1", K.RESERVED),
        ("0.1.2.3", K.RESERVED),
        ("192.0.2.1", K.RESERVED),  # documentation
        ("198.18.0.1", K.RESERVED),  # benchmarking
        ("2001:db8::1", K.RESERVED),
        # IPv6 spellings of IPv4 addresses are judged by the IPv4 address
        ("::ffff:127.0.0.1", K.LOOPBACK),
        ("::ffff:7f00:1", K.LOOPBACK),
        ("::ffff:169.254.169.254", K.LINK_LOCAL),
        ("::ffff:10.1.2.3", K.PRIVATE),
        ("::ffff:0.0.0.0", K.UNSPECIFIED),
        ("::ffff:8.8.8.8", K.PUBLIC),
        ("::127.0.0.1", K.LOOPBACK),  # IPv4-compatible
        ("::10.0.0.1", K.PRIVATE),
        ("64:ff9b::7f00:1", K.LOOPBACK),  # NAT64
        ("64:ff9b::a9fe:a9fe", K.LINK_LOCAL),
        ("64:ff9b::808:808", K.PUBLIC),
        ("2002:7f00:1::", K.LOOPBACK),  # 6to4 of 127.0.0.1, which is_global calls global
        ("2002:a00:1::1", K.PRIVATE),
    ],
)
def test_addresses_are_classified(text: str, kind: AddressKind) -> None:
    ip = parse_ip(text)
    assert ip is not None
    assert classify(ip) is kind


@pytest.mark.parametrize("text", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1", "localhost"])
def test_legacy_numeric_forms_are_not_addresses(text: str) -> None:
    assert parse_ip(text) is None  # the client refuses them outright (below)


def ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def refused_as_own(policy: TargetPolicy, text: str, port: int) -> bool:
    refusal = policy.refusal(ip(text), port)
    return refusal is not None and refusal.own_server


def test_only_public_addresses_pass_by_default() -> None:
    policy = TargetPolicy()
    assert policy.refusal(ip("8.8.8.8"), 443) is None
    for text in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "fe80::1", "::ffff:127.0.0.1"):
        refusal = policy.refusal(ip(text), 80)
        assert refusal is not None
        assert not refusal.own_server


def test_a_lab_allows_loopback_private_and_link_local_only() -> None:
    policy = TargetPolicy(allow_private=True)
    for text in ("127.0.0.1", "::1", "10.0.0.1", "100.64.0.1", "fd00::1", "169.254.169.254"):
        assert policy.refusal(ip(text), 80) is None, text
    for text in ("0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "240.0.0.1"):
        assert policy.refusal(ip(text), 80) is not None, text


def test_the_servers_own_port_is_refused_even_in_a_lab() -> None:
    local = {ip("127.0.0.1"), ip("::1"), ip("203.0.113.7")}
    wildcard = TargetPolicy(
        allow_private=True, own_port=8080, own_host="0.0.0.0", is_local=local.__contains__
    )
    for text in ("127.0.0.1", "::1", "::ffff:127.0.0.1", "203.0.113.7"):
        assert refused_as_own(wildcard, text, 8080), text
    assert wildcard.refusal(ip("127.0.0.1"), 8081) is None  # another port
    assert wildcard.refusal(ip("10.9.9.9"), 8080) is None  # another host's 8080
    one = TargetPolicy(allow_private=True, own_port=8080, own_host="127.0.0.1")
    assert one.refusal(ip("127.0.0.1"), 8080) is not None
    assert one.refusal(ip("::ffff:127.0.0.1"), 8080) is not None
    # a name as the listening host: every local address is this server's
    named = TargetPolicy(own_port=8080, own_host="localhost", is_local=local.__contains__)
    assert refused_as_own(named, "203.0.113.7", 8080)


def test_the_kernel_knows_the_local_addresses() -> None:
    assert is_local_address(ip("127.0.0.1"))
    assert not is_local_address(ip("192.0.2.1"))  # documentation range: nobody's
    policy = TargetPolicy(allow_private=True, own_port=8080, own_host="::")
    assert refused_as_own(policy, "127.0.0.1", 8080)
    assert policy.refusal(ip("127.0.0.1"), 8081) is None


class FakeDns(AbstractResolver):
    """Names → addresses, changeable between calls (a DNS server that rebinds). A stand-in
    for DNS on purpose: no real DNS server can be run here for arbitrary names."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"{host}: no such name")
        return [
            ResolveResult(
                hostname=host,
                host=a,
                port=port,
                family=socket.AF_INET6 if ":" in a else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for a in self.names[host]
        ]

    async def close(self) -> None:
        pass


async def test_the_resolver_drops_refused_addresses_and_fails_when_none_is_left() -> None:
    dns = FakeDns(
        {
            "mixed.test": ["10.0.0.5", "8.8.8.8", "::1", "2606:4700:4700::1111"],
            "inside.test": ["127.0.0.1", "169.254.169.254", "::ffff:10.0.0.1"],
            "garbage.test": ["not-an-address"],
        }
    )
    guarded = GuardedResolver(TargetPolicy(), dns)
    kept = await guarded.resolve("mixed.test", 443)
    assert [r["host"] for r in kept] == ["8.8.8.8", "2606:4700:4700::1111"]
    for name in ("inside.test", "garbage.test"):
        with pytest.raises(WebhookTargetRefused) as info:
            await guarded.resolve(name, 80)
        assert not info.value.own_server
    with pytest.raises(OSError, match="no such name"):
        await guarded.resolve("nowhere.test", 80)


async def test_the_resolver_refuses_the_servers_own_port_in_a_lab() -> None:
    dns = FakeDns({"self.test": ["127.0.0.1"]})
    policy = TargetPolicy(allow_private=True, own_port=9999, own_host="127.0.0.1")
    guarded = GuardedResolver(policy, dns)
    assert await guarded.resolve("self.test", 9998)
    with pytest.raises(WebhookTargetRefused) as info:
        await guarded.resolve("self.test", 9999)
    assert info.value.own_server


class Counter:
    """A real receiver on 127.0.0.1 that counts what reaches it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.hits = 0

    async def handle(self, _request: web.Request) -> web.Response:
        self.hits += 1
        # a new connection per request: each one is resolved and checked
        return web.Response(text="x" * 100_000, headers={"Connection": "close"})


@pytest.fixture
async def counter() -> AsyncIterator[Counter]:
    c = Counter()
    runner = await serve_local(c.port, web.post("/hook", c.handle))
    yield c
    await runner.cleanup()


async def post(client: WebhookClient, url: str) -> tuple[int, int, bool]:
    async with client.post(url, data=b"{}", headers={}, timeout_s=5) as r:
        body, more = await read_at_most(r, 1000)
        return r.status, len(body), more


async def test_a_real_request_reaches_only_checked_addresses(counter: Counter) -> None:
    dns = FakeDns({"hook.test": ["127.0.0.1"]})
    strict = WebhookClient(TargetPolicy(), resolver=dns)
    lab = WebhookClient(TargetPolicy(allow_private=True), resolver=dns)
    try:
        for url in (
            f"http://hook.test:{counter.port}/hook",
            f"http://127.0.0.1:{counter.port}/hook",
            f"http://[::ffff:127.0.0.1]:{counter.port}/hook",
            f"http://127.1:{counter.port}/hook",
            f"http://2130706433:{counter.port}/hook",
        ):
            with pytest.raises(WebhookTargetRefused):
                await post(strict, url)
        assert counter.hits == 0
        assert await post(lab, f"http://hook.test:{counter.port}/hook") == (200, 1000, True)
        assert counter.hits == 1
        with pytest.raises(WebhookTargetRefused):  # legacy forms: refused even in a lab
            await post(lab, f"http://127.1:{counter.port}/hook")
        assert counter.hits == 1
    finally:
        await strict.close()
        await lab.close()


async def test_a_name_that_rebinds_is_checked_again_at_the_next_connection(
    counter: Counter,
) -> None:
    # 127.0.0.2 on the receiver's port stands for an inside address (this "server"'s own):
    # allowed once, the name then resolves there
    dns = FakeDns({"rebind.test": ["127.0.0.1"]})
    policy = TargetPolicy(allow_private=True, own_port=counter.port, own_host="127.0.0.2")
    client = WebhookClient(policy, resolver=dns)
    url = f"http://rebind.test:{counter.port}/hook"
    try:
        assert await post(client, url) == (200, 1000, True)
        dns.names["rebind.test"] = ["127.0.0.2"]
        connector = client.session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        connector.clear_dns_cache()  # as when its TTL passes
        with pytest.raises(WebhookTargetRefused) as info:
            await post(client, url)
        assert info.value.own_server
        assert counter.hits == 1
        assert dns.asked == ["rebind.test", "rebind.test"]
    finally:
        await client.close()
