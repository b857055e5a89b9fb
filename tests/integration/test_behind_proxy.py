"""Behind nginx: a real server started with ``--trusted-proxies 127.0.0.1`` sent the headers
deploy/nginx.conf sets answers with the public URLs and counts the forwarded client; the same
headers from any other peer, or to a server that trusts nobody, change nothing."""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from tests.conftest import Server, free_port
from tests.helpers.wait import until

pytestmark = pytest.mark.slow

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

PUBLIC = "https://public.example.com"
#: what deploy/nginx.conf sends for a client at 203.0.113.9 on https://public.example.com
NGINX = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "public.example.com",
    "X-Forwarded-Port": "443",
}
EXTENSIONS = "/restapi/v1.0/account/~/extension?perPage=1"


def start(tmp: Path, *args: str) -> Iterator[Server]:
    server = Server(tmp / "data", port=free_port(), extra_args=list(args)).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Trusts 127.0.0.1 (nginx on the same machine); two failed logins hold an address."""
    yield from start(
        tmp_path_factory.mktemp("proxied"),
        "--trusted-proxies",
        "127.0.0.1",
        "--login-max-failures-per-ip",
        "2",
    )


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Trusts nobody (the default)."""
    yield from start(tmp_path_factory.mktemp("direct"), "--login-max-failures-per-ip", "2")


async def call(
    server: Server,
    method: str,
    path: str,
    headers: dict[str, str],
    *,
    source: str = "127.0.0.1",
    **kwargs: Any,
) -> tuple[int, Any]:
    """A request from ``source`` (a 127.0.0.x address), as the demo supervisor."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector) as s,
        s.request(method, server.http + path, headers={**server.headers, **headers}, **kwargs) as r,
    ):
        body = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, body


def uris(body: Any) -> list[str]:
    """Every ``uri`` in an answer, however deep."""
    if isinstance(body, dict):
        found = [v for k, v in body.items() if k == "uri" and isinstance(v, str)]
        return found + [u for v in body.values() for u in uris(v)]
    if isinstance(body, list):
        return [u for v in body for u in uris(v)]
    return []


async def test_wstoken_gives_the_public_wss_uri(proxied: Server) -> None:
    status, body = await call(proxied, "POST", "/restapi/oauth/wstoken", NGINX)
    assert status == 200, body
    assert body["uri"] == "wss://public.example.com/ws"
    status, body = await call(
        proxied, "POST", "/restapi/oauth/wstoken", {**NGINX, "X-Forwarded-Port": "8443"}
    )
    assert body["uri"] == "wss://public.example.com:8443/ws"


async def test_paging_links_and_record_uris_are_public(proxied: Server) -> None:
    status, body = await call(proxied, "GET", EXTENSIONS, NGINX)
    assert status == 200, body
    assert body["paging"]["totalPages"] > 1  # so there is a next page to link to
    found = uris(body)
    assert "nextPage" in body["navigation"]
    assert len(found) >= 5  # the list, its records, first, next and last page
    assert all(u.startswith(PUBLIC + "/restapi/v1.0/account/") for u in found), found
    status, body = await call(proxied, "GET", "/calls", NGINX)
    assert status == 200, body
    assert body["uri"] == PUBLIC + "/calls"


async def test_client_links_and_subscription_uris_are_public(proxied: Server) -> None:
    status, body = await call(
        proxied, "POST", "/calls/client-links", NGINX, json={"callId": "proxy-call-1"}
    )
    assert status == 201, body
    assert body["uri"].startswith(PUBLIC + "/client?")
    # a WebSocket-gateway subscription, made on an upgrade nginx forwarded
    _, token = await call(proxied, "POST", "/restapi/oauth/wstoken", NGINX)
    ws_url = f"ws://127.0.0.1:{proxied.port}/ws?access_token={token['ws_access_token']}"
    async with aiohttp.ClientSession() as s, s.ws_connect(ws_url, headers=NGINX) as ws:
        details = json.loads((await ws.receive(timeout=10)).data)
        assert details[0]["type"] == "ConnectionDetails"
        await ws.send_str(
            json.dumps(
                [
                    {
                        "type": "ClientRequest",
                        "messageId": "m1",
                        "method": "POST",
                        "path": "/restapi/v1.0/subscription/",
                    },
                    {
                        "eventFilters": ["/restapi/v1.0/account/~/telephony/sessions"],
                        "deliveryMode": {"transportType": "WebSocket"},
                    },
                ]
            )
        )
        reply = json.loads((await ws.receive(timeout=10)).data)
        assert reply[0]["status"] == 200, reply
        assert reply[1]["uri"] == f"{PUBLIC}/restapi/v1.0/subscription/{reply[1]['id']}"
        status, body = await call(proxied, "GET", "/restapi/v1.0/subscription", NGINX)
        assert status == 200, body
        assert body["records"], body
        assert all(u.startswith(PUBLIC + "/restapi/v1.0/subscription") for u in uris(body))


async def test_rfc_7239_forwarded_is_honoured(proxied: Server) -> None:
    forwarded = {"Forwarded": 'for=203.0.113.7;proto=https;host="public.example.com:8443"'}
    status, body = await call(proxied, "POST", "/restapi/oauth/wstoken", forwarded)
    assert body["uri"] == "wss://public.example.com:8443/ws"
    status, body = await call(proxied, "GET", EXTENSIONS, forwarded)
    assert status == 200, body
    assert all(u.startswith("https://public.example.com:8443/") for u in uris(body))


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "gopher", "X-Forwarded-Host": "a/b@c", "X-Forwarded-Port": "x"},
        {"X-Forwarded-For": "not-an-ip, ::::, 999.1.1.1", "X-Forwarded-Host": "[zz"},
        {"Forwarded": 'for="[::1;proto=https;;host=', "X-Forwarded-Port": "99999999999"},
        {"Forwarded": "for=" + "1" * 4000, "X-Forwarded-Host": "h" * 4000},
    ],
)
async def test_garbage_forwarding_headers_are_ignored(
    proxied: Server, headers: dict[str, str]
) -> None:
    status, body = await call(proxied, "POST", "/restapi/oauth/wstoken", headers)
    assert status == 200, body
    assert body["uri"] == f"ws://127.0.0.1:{proxied.port}/ws"
    status, body = await call(proxied, "GET", EXTENSIONS, headers)
    assert status == 200, body
    assert all(u.startswith(proxied.http + "/") for u in uris(body))


async def test_headers_from_an_untrusted_peer_are_ignored(proxied: Server, direct: Server) -> None:
    for server, source in ((proxied, "127.0.0.2"), (direct, "127.0.0.1")):
        status, body = await call(server, "POST", "/restapi/oauth/wstoken", NGINX, source=source)
        assert status == 200, body
        assert body["uri"] == f"ws://127.0.0.1:{server.port}/ws"
        status, body = await call(
            server, "GET", EXTENSIONS, {"Forwarded": "proto=https;host=x.example"}, source=source
        )
        assert status == 200, body
        assert all(u.startswith(server.http + "/") for u in uris(body)), body


async def failed_login(server: Server, client: str, n: int) -> int:
    """A wrong password for a username of its own, through nginx from ``client``."""
    creds = server.credentials()
    basic = base64.b64encode(f"{creds['clientId']}:{creds['clientSecret']}".encode()).decode()
    form = {"grant_type": "password", "username": f"nobody{n}@x.test", "password": "wrong"}
    headers = {"Authorization": f"Basic {basic}", "X-Forwarded-For": client}
    async with (
        aiohttp.ClientSession() as s,
        s.post(server.http + "/restapi/oauth/token", data=form, headers=headers) as r,
    ):
        return r.status


async def test_the_login_throttle_counts_the_forwarded_client_only_from_a_trusted_proxy(
    proxied: Server, direct: Server
) -> None:
    # trusted: each client has its own budget of two failures
    assert [await failed_login(proxied, "198.51.100.1", n) for n in range(3)] == [400, 400, 429]
    assert await failed_login(proxied, "198.51.100.2", 3) == 400
    # not trusted: the header is the client's word, and every login is the peer's
    assert [await failed_login(direct, "198.51.100.1", n) for n in range(3)] == [400, 400, 429]
    assert await failed_login(direct, "198.51.100.2", 3) == 429


# -- through the real nginx, with deploy/nginx.conf's rules --------------------------------


@pytest.fixture
def nginx(proxied: Server, tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext, Path]]:
    """nginx on a free loopback port, terminating TLS with a throwaway CA's certificate, in
    front of ``proxied`` with deploy/nginx.conf's map, log format and ``location /`` as they
    are. Yields its base URL, a context trusting it, and its callscope access log."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        pytest.skip("nginx is not installed")
    conf = (DEPLOY / "nginx.conf").read_text()
    log_format = re.search(r"^log_format callscope .*?;$", conf, re.M | re.S)
    upgrade = re.search(r"^map \$http_upgrade .*?^\}", conf, re.M | re.S)
    location = re.search(r"^    location / \{.*?^    \}", conf, re.M | re.S)
    assert log_format is not None
    assert upgrade is not None
    assert location is not None
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    port = free_port()
    (tmp_path / "nginx.conf").write_text(
        f"""
daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log {tmp_path}/default.log combined;  # the main file's; not to be inherited
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    {upgrade[0]}
    {log_format[0]}
    upstream callscope {{ server 127.0.0.1:{proxied.port}; }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {tmp_path}/cert.pem;
        ssl_certificate_key {tmp_path}/key.pem;
        access_log {tmp_path}/callscope.log callscope;
{location[0]}
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, (tmp_path / "error.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        yield f"https://127.0.0.1:{port}", context, tmp_path / "callscope.log"
    finally:
        proc.terminate()
        proc.wait(10)


async def test_through_nginx_urls_are_public_and_query_strings_are_not_logged(
    proxied: Server, nginx: tuple[str, ssl.SSLContext, Path]
) -> None:
    base, context, log = nginx
    secret = "never-in-the-log-0123"
    spoofed = {"Forwarded": "for=198.51.100.1;proto=http;host=evil.example"}
    connector = aiohttp.TCPConnector(ssl=context, local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        async with s.post(
            f"{base}/restapi/oauth/wstoken?access_token={secret}",
            headers={**proxied.headers, **spoofed},
        ) as r:
            assert r.status == 200, await r.text()
            token = await r.json()
        # nginx's scheme, host and port; the client's own Forwarded was cleared
        assert token["uri"] == f"wss://{base.removeprefix('https://')}/ws"
        async with s.get(f"{base}{EXTENSIONS}&access_token={secret}", headers=proxied.headers) as r:
            assert r.status == 200, await r.text()
            assert all(u.startswith(base + "/") for u in uris(await r.json()))
        async with s.ws_connect(
            f"{token['uri'].replace('wss:', 'https:')}?access_token={token['ws_access_token']}"
        ) as ws:
            details = json.loads((await ws.receive(timeout=10)).data)
            assert details[0]["type"] == "ConnectionDetails"

    # nginx logs a WebSocket's request once the proxied connection has closed
    def written() -> str | None:
        text = log.read_text()
        return text if "GET /ws HTTP/1.1" in text else None

    logged = await until(written, timeout=15, what="nginx's log line of the WebSocket")
    assert "POST /restapi/oauth/wstoken HTTP/1.1" in logged
    assert "GET /ws HTTP/1.1" in logged
    assert secret not in logged
    assert token["ws_access_token"] not in logged
    assert "access_token" not in logged
    assert not (log.parent / "default.log").exists() or not (log.parent / "default.log").read_text()
