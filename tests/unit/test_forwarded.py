"""The forwarding rules (callscope.forwarded) without a network: who is trusted, which entry
of each header counts, and that garbage is ignored rather than believed or fatal."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callscope.api.grpc_ingest import client_address
from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.forwarded import (
    PublicView,
    TrustedProxies,
    parse_forwarded,
    parse_ip,
    resolve,
)

LOCAL = TrustedProxies.parse("127.0.0.1")
#: nginx (deploy/nginx.conf) in front of a client at 203.0.113.9 on https://public.example.com
NGINX = {
    "x-forwarded-for": ["203.0.113.9"],
    "x-forwarded-proto": ["https"],
    "x-forwarded-host": ["public.example.com"],
    "x-forwarded-port": ["443"],
}


def view(
    headers: dict[str, list[str]],
    *,
    peer: str = "127.0.0.1",
    trusted: TrustedProxies = LOCAL,
    host: str = "127.0.0.1:8081",
) -> PublicView | None:
    return resolve(peer=peer, scheme="http", host=host, headers=headers, trusted=trusted)


def test_nginx_headers_from_a_trusted_peer_give_the_public_request() -> None:
    assert view(NGINX) == PublicView("https", "public.example.com", "203.0.113.9")


@pytest.mark.parametrize(
    ("peer", "trusted"),
    [
        ("127.0.0.2", LOCAL),  # another address
        ("127.0.0.1", TrustedProxies.parse("")),  # nobody trusted: the default
        (None, LOCAL),  # no peer address (a Unix socket)
        ("not-an-address", LOCAL),
    ],
)
def test_headers_from_anyone_else_are_not_read(peer: str | None, trusted: TrustedProxies) -> None:
    assert resolve(peer=peer, scheme="http", host="h", headers=NGINX, trusted=trusted) is None


def test_an_ipv4_mapped_peer_is_its_ipv4_address() -> None:
    assert view(NGINX, peer="::ffff:127.0.0.1") is not None


@pytest.mark.parametrize(
    ("extra", "host"),
    [
        ({"x-forwarded-port": ["8443"]}, "public.example.com:8443"),
        ({"x-forwarded-host": ["public.example.com:9443"]}, "public.example.com:9443"),
        ({"x-forwarded-proto": ["http"], "x-forwarded-port": ["80"]}, "public.example.com"),
        ({"x-forwarded-proto": ["http"]}, "public.example.com:443"),
        ({"x-forwarded-host": ["Public.Example.COM"]}, "public.example.com"),
        ({"x-forwarded-host": ["[2001:DB8::1]"]}, "[2001:db8::1]"),
    ],
)
def test_the_public_port_is_dropped_only_when_it_is_the_schemes_default(
    extra: dict[str, list[str]], host: str
) -> None:
    got = view({**NGINX, **extra})
    assert got is not None
    assert got.host == host


def test_x_forwarded_port_applies_to_the_host_header_without_x_forwarded_host() -> None:
    headers = {"x-forwarded-proto": ["https"], "x-forwarded-port": ["8443"]}
    assert view(headers, host="public.example.com") == PublicView(
        "https", "public.example.com:8443", "127.0.0.1"
    )


@pytest.mark.parametrize(
    ("xff", "trusted", "client"),
    [
        # what the client wrote itself comes first; the proxy appended the real address
        (["198.51.100.1, 203.0.113.9"], "127.0.0.1", "203.0.113.9"),
        (["198.51.100.1", "203.0.113.9"], "127.0.0.1", "203.0.113.9"),  # two fields: one list
        # a hop between our own proxies is skipped
        (["203.0.113.9, 10.0.0.5"], "127.0.0.1,10.0.0.0/8", "203.0.113.9"),
        # every hop trusted: the farthest stands
        (["10.0.0.7, 10.0.0.5"], "127.0.0.1,10.0.0.0/8", "10.0.0.7"),
        # an entry that is no address ends the walk: the last trusted hop stands
        (["203.0.113.9, garbage"], "127.0.0.1", "127.0.0.1"),
        (["203.0.113.9, garbage, 10.0.0.5"], "127.0.0.1,10.0.0.0/8", "10.0.0.5"),
        (["[2001:db8::9]:1234"], "127.0.0.1", "2001:db8::9"),
        (["2001:db8::9"], "127.0.0.1", "2001:db8::9"),
        (["203.0.113.9:5555"], "127.0.0.1", "203.0.113.9"),
        ([""], "127.0.0.1", "127.0.0.1"),
    ],
)
def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy(
    xff: list[str], trusted: str, client: str
) -> None:
    got = view({"x-forwarded-for": xff}, trusted=TrustedProxies.parse(trusted))
    assert got is not None
    assert got.remote == client


def test_only_the_last_value_of_proto_host_and_port_counts() -> None:
    headers = {
        "x-forwarded-proto": ["http, https"],
        "x-forwarded-host": ["evil.example", "public.example.com"],
        "x-forwarded-port": ["1234,443"],
    }
    assert view(headers) == PublicView("https", "public.example.com", "127.0.0.1")


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        (
            ["for=203.0.113.9;proto=https;host=public.example.com"],
            PublicView("https", "public.example.com", "203.0.113.9"),
        ),
        (
            ['For="[2001:db8:cafe::17]:4711";Proto=HTTPS;Host="public.example.com:8443"'],
            PublicView("https", "public.example.com:8443", "2001:db8:cafe::17"),
        ),
        # a bare host:port (RFC 7239 wants it quoted; proxies send it so)
        (
            ["for=203.0.113.9;proto=https;host=public.example.com:8443"],
            PublicView("https", "public.example.com:8443", "203.0.113.9"),
        ),
        # what the client sent comes before what our proxy appended
        (
            ["for=198.51.100.1;proto=https;host=evil.example, for=203.0.113.9;host=pub.example"],
            PublicView("http", "pub.example", "203.0.113.9"),
        ),
        (
            ["for=198.51.100.1;host=evil.example", "for=203.0.113.9;host=pub.example"],
            PublicView("http", "pub.example", "203.0.113.9"),
        ),
        # obfuscated or unknown client: the proxy's own element, the proxy as the client
        (
            ["for=unknown;proto=https;host=pub.example"],
            PublicView("https", "pub.example", "127.0.0.1"),
        ),
        (["for=_hidden;proto=https"], PublicView("https", "127.0.0.1:8081", "127.0.0.1")),
        # an unterminated quote swallows the rest: no element parses, nothing is believed
        (['for="unterminated, for=203.0.113.9'], PublicView("http", "127.0.0.1:8081", "127.0.0.1")),
        # empty list elements are nothing
        ([",, for=203.0.113.9;proto=https,"], PublicView("https", "127.0.0.1:8081", "203.0.113.9")),
    ],
)
def test_forwarded_is_read_from_the_element_our_proxy_appended(
    forwarded: list[str], expected: PublicView
) -> None:
    assert view({"forwarded": forwarded}) == expected


def test_forwarded_walks_past_hops_between_trusted_proxies() -> None:
    trusted = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")
    headers = {
        "forwarded": [
            "for=198.51.100.1;host=evil.example",  # the client's own
            "for=203.0.113.9;proto=https;host=public.example.com",  # the edge proxy's
            "for=10.0.0.5;proto=http;host=inner.internal",  # the inner proxy's
        ]
    }
    assert view(headers, trusted=trusted) == PublicView(
        "https", "public.example.com", "203.0.113.9"
    )
    # a malformed element stops the walk at the element right of it
    headers["forwarded"][1] = "for=203.0.113.9;;"
    assert view(headers, trusted=trusted) == PublicView("http", "inner.internal", "10.0.0.5")


def test_forwarded_wins_over_x_forwarded_unless_its_last_element_is_malformed() -> None:
    headers = {**NGINX, "forwarded": ["for=198.51.100.7;proto=http;host=other.example"]}
    assert view(headers) == PublicView("http", "other.example", "198.51.100.7")
    headers["forwarded"] = ["for=198.51.100.7;proto"]
    assert view(headers) == PublicView("https", "public.example.com", "203.0.113.9")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-forwarded-proto", "gopher"),
        ("x-forwarded-proto", ""),
        ("x-forwarded-host", "evil.example/path"),
        ("x-forwarded-host", "a b"),
        ("x-forwarded-host", "[zz::]"),
        ("x-forwarded-host", "host:99999"),
        ("x-forwarded-host", "user@host"),
        ("x-forwarded-host", "x" * 300),
        ("x-forwarded-port", "99999"),
        ("x-forwarded-port", "0"),
        ("x-forwarded-port", "-1"),
        ("x-forwarded-port", "443abc"),
    ],
)
def test_a_value_that_does_not_parse_is_ignored_alone(name: str, value: str) -> None:
    headers = {"x-forwarded-for": ["203.0.113.9"], name: [value]}
    got = view(headers, host="own.example:8081")
    assert got == PublicView("http", "own.example:8081", "203.0.113.9")


def test_a_host_header_that_does_not_parse_is_left_as_it_came() -> None:
    got = view({"x-forwarded-proto": ["https"]}, host="a b")
    assert got == PublicView("https", "a b", "127.0.0.1")


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "forwarded",
                "x-forwarded-for",
                "x-forwarded-proto",
                "x-forwarded-host",
                "x-forwarded-port",
            ]
        ),
        st.lists(st.text(max_size=60), max_size=3),
    )
)
def test_any_header_text_gives_a_view_and_never_an_error(headers: dict[str, list[str]]) -> None:
    got = view(headers)
    assert got is not None
    assert got.scheme in ("http", "https")
    assert parse_ip(got.remote) is not None
    assert not set(got.host) & set(" /@?#\"'\\,;")


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9:80 ", "203.0.113.9"),
        ("[2001:db8::1]:80", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("::ffff:10.1.2.3", "10.1.2.3"),
        ("[2001:db8::1]x", None),
        ("[2001:db8::1", None),
        ("203.0.113.9:http", None),
        ("unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_addresses_are_read_as_proxies_write_them(text: str | None, address: str | None) -> None:
    got = parse_ip(text)
    assert (str(got) if got is not None else None) == address


def test_forwarded_elements_parse_strictly_but_values_may_be_bare() -> None:
    assert parse_forwarded(['for="[::1]:80";by=a', "proto=https"]) == [
        {"for": "[::1]:80", "by": "a"},
        {"proto": "https"},
    ]
    assert parse_forwarded(['for="a\\"b, c"']) == [{"for": 'a"b, c'}]
    assert parse_forwarded(["for=a;for=b", "for", "for=a b", "=x"]) == [None] * 4


def test_trusted_proxies_take_addresses_and_networks() -> None:
    trusted = TrustedProxies.parse(" 127.0.0.1 , 10.0.0.0/8,::1,")
    assert parse_ip("10.200.3.4") in trusted
    assert parse_ip("::1") in trusted
    assert parse_ip("11.0.0.1") not in trusted
    assert "127.0.0.1" not in trusted  # addresses, not text
    assert not TrustedProxies.parse(" ")


@pytest.mark.parametrize("bad", ["nginx", "10.0.0.0/33", "127.0.0.1;10.0.0.1"])
def test_a_bad_trusted_proxies_setting_names_the_entry_and_the_fix(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"trusted_proxies: .* e\.g\. 127\.0\.0\.1"):
        Settings(trusted_proxies=bad)


def test_a_grpc_dialog_through_a_trusted_proxy_counts_the_client() -> None:
    metadata: list[tuple[str, Any]] = [
        ("authorization", "Bearer x"),
        ("x-forwarded-for", b"198.51.100.1, 203.0.113.9"),
    ]
    assert client_address("127.0.0.1", metadata, LOCAL) == "203.0.113.9"
    assert client_address("127.0.0.2", metadata, LOCAL) == "127.0.0.2"
    assert client_address("127.0.0.1", metadata, TrustedProxies.parse("")) == "127.0.0.1"
    assert client_address("127.0.0.1", None, LOCAL) == "127.0.0.1"
