"""REST on a real server: streaming profiles, the secret check, calls, errors, metrics."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from tests.conftest import SERVERS, Server, make_stereo_fixture, simulate_command

pytestmark = pytest.mark.slow

PROFILE = {
    "productType": "QUEUE",
    "productId": 4402,  # the demo account has 4401 already
    "subAccountId": "88800012",
    "mainAccountId": "88800010",
    "rcAccountId": "70000001",  # the demo account's id
    "streamingUrl": "wss://stream.example.test:8443",
    "secret": "s3cr3t-demo",
}


async def call(method: str, url: str, **kwargs: Any) -> tuple[int, Any, str]:
    """One request; authenticated as the demo admin of the server at ``url`` unless the
    caller passes its own ``headers``."""
    if "headers" not in kwargs:
        kwargs["headers"] = SERVERS[URL(url).port or 80].headers
    async with aiohttp.ClientSession() as s, s.request(method, url, **kwargs) as r:
        text = await r.text()
        body = await r.json() if r.content_type == "application/json" else text
        return r.status, body, r.content_type


def assert_rc_error(body: Any, code: str) -> None:
    """The spec §1.3 body: top-level errorCode/message and errors[] with the same code."""
    assert body["errorCode"] == code, body
    assert body["message"]
    assert body["errors"][0]["errorCode"] == code
    assert body["errors"][0]["message"] == body["message"]


@pytest.mark.parametrize("prefix", ["/platform/api/media", "/media-distributor"])
async def test_profile_create_read_list_update_delete(server: Server, prefix: str) -> None:
    base = server.http + prefix
    status, body, ctype = await call("POST", base + "/product", json=PROFILE)
    assert (status, ctype) == (200, "application/json")
    # the response echoes the profile (seed sample response), the secret this once
    assert body == {**PROFILE, "secretSet": True}

    one = f"{base}/product/account/88800012/type/QUEUE/id/4402"
    status, body, _ = await call("GET", one)
    without_secret = {k: v for k, v in PROFILE.items() if k != "secret"}
    assert (status, body) == (200, {**without_secret, "secretSet": True})  # write-only

    status, body, _ = await call("POST", base + "/product", json=PROFILE)
    assert status == 409
    assert_rc_error(body, "MDS-409")

    update = {**PROFILE, "streamingUrl": "wss://10.1.2.3", "secret": "rotated-secret"}
    del update["mainAccountId"]
    status, body, _ = await call("PUT", base + "/product", json=update)
    assert status == 200
    assert body["streamingUrl"] == "wss://10.1.2.3"
    assert body["secret"] == "rotated-secret"
    assert body["mainAccountId"] == "88800010"  # optional on update: kept

    status, body, _ = await call("GET", base + "/product")
    assert status == 200
    assert [p["productId"] for p in body["records"]] == [4401, 4402]  # the demo's, this one
    assert all("secret" not in p for p in body["records"])
    status, body, _ = await call("GET", base + "/product?subAccountId=nobody")
    assert body["records"] == []

    status, body, ctype = await call("DELETE", one)
    assert (status, ctype) == (200, "text/plain")
    assert "Deleted QUEUE 4402" in body
    status, body, _ = await call("GET", one)
    assert status == 404
    assert_rc_error(body, "CMN-102")


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"productType": "IVR"}, "productType"),
        ({"productId": "abc"}, "productId"),
        ({"productId": 2**31}, "productId"),
        ({"productId": True}, "productId"),
        ({"subAccountId": None}, "subAccountId"),
        ({"mainAccountId": ""}, "mainAccountId"),
        ({"rcAccountId": {"x": 1}}, "rcAccountId"),
        ({"streamingUrl": "ws://insecure.example"}, "streamingUrl"),
        ({"streamingUrl": "wss://host.example/path"}, "streamingUrl"),
        ({"streamingUrl": "wss://host.example?x=1"}, "streamingUrl"),
        ({"streamingUrl": "wss://host.example:99999"}, "streamingUrl"),
        ({"streamingUrl": 5}, "streamingUrl"),
        ({"secret": 12345}, "secret"),
        ({"secret": "short"}, "secret"),
    ],
)
async def test_profile_validation_names_the_parameter(
    shared_server: Server, change: dict[str, Any], parameter: str
) -> None:
    status, body, _ = await call(
        "POST", shared_server.http + "/platform/api/media/product", json={**PROFILE, **change}
    )
    assert status == 400
    assert_rc_error(body, "CMN-101")
    assert body["errors"][0]["parameterName"] == parameter
    if parameter == "secret":
        assert "12345" not in str(body)  # a secret is never echoed in an error
        assert "short" not in str(body)


@pytest.mark.parametrize(
    ("data", "code"),
    [(b"{oops", "CMN-103"), (b"", "CMN-103"), (b"[1,2]", "CMN-104"), (b'"text"', "CMN-104")],
)
async def test_malformed_json_bodies(shared_server: Server, data: bytes, code: str) -> None:
    status, body, _ = await call(
        "POST",
        shared_server.http + "/platform/api/media/product",
        data=data,
        headers={
            "Content-Type": "application/json",
            **SERVERS[URL(shared_server.http).port or 80].headers,
        },
    )
    assert status == 400
    assert_rc_error(body, code)


async def test_oversized_body_is_refused(shared_server: Server) -> None:
    status, body, _ = await call(
        "POST",
        shared_server.http + "/platform/api/media/product",
        json={**PROFILE, "pad": "x" * 70_000},
    )
    assert status == 413
    assert_rc_error(body, "CMN-101")


async def test_empty_streaming_url_is_allowed(server: Server) -> None:
    status, body, _ = await call(
        "POST", server.http + "/platform/api/media/product", json={**PROFILE, "streamingUrl": ""}
    )
    assert (status, body["streamingUrl"]) == (200, "")


def simulate(
    server: Server, tmp_path: Path, *args: str, credentials: bool = True
) -> subprocess.CompletedProcess[str]:
    """`callscope simulate` of a 1 s call; ``credentials=False``: no secret presented."""
    make_stereo_fixture(tmp_path / "f.wav", seconds=1)
    command = simulate_command(server, "--source", str(tmp_path / "f.wav"), "--speed", "10", *args)
    if not credentials:
        at = command.index("--credentials")
        del command[at : at + 2]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "CALLSCOPE_STREAMING_SECRET"},
        cwd=tmp_path,  # no ./callscope-data/demo-credentials.json to fall back on
    )


async def test_stream_secret_missing_wrong_and_right(server: Server, tmp_path: Path) -> None:
    status, _, _ = await call("POST", server.http + "/platform/api/media/product", json=PROFILE)
    assert status == 200

    missing = simulate(server, tmp_path, "--product-id", "4402", credentials=False)
    assert missing.returncode == 1
    assert "HTTP 401" in missing.stderr
    assert "X-Streaming-Secret" in missing.stderr  # the refusal says how to present it

    wrong = simulate(server, tmp_path, "--product-id", "4402", "--secret", "not-it-at-all")
    assert wrong.returncode == 1
    assert "HTTP 403" in wrong.stderr
    assert "attempts" not in wrong.stderr

    # the right secret for another product of the account: refused too (the claim is checked)
    other = simulate(server, tmp_path, "--product-id", "9999", "--secret", "s3cr3t-demo")
    assert other.returncode == 1
    assert "HTTP 403" in other.stderr
    assert "productId" in other.stderr

    status, body, _ = await call("GET", server.http + "/calls")
    assert body["records"] == []  # nothing stored for refused upgrades
    assert not list((server.data_dir / "recordings").iterdir())

    # the same secret as a bearer token or a query parameter is accepted too
    for headers, query in (
        ({"Authorization": "Bearer s3cr3t-demo"}, ""),
        ({}, "&secret=s3cr3t-demo"),
    ):
        url = (
            server.ws
            + "?subaccountId=88800012&productType=Queue&productId=4402&callId=direct"
            + query
        )
        async with aiohttp.ClientSession() as s, s.ws_connect(url, headers=headers) as ws:
            assert not ws.closed
            await ws.close()

    ok = simulate(server, tmp_path, "--product-id", "4402", "--secret", "s3cr3t-demo")
    assert ok.returncode == 0, ok.stderr
    status, body, _ = await call("GET", server.http + "/calls?status=completed")
    assert [(r["productId"], r["accountId"]) for r in body["records"]] == [("4402", "70000001")]

    metrics = (await call("GET", server.http + "/metrics"))[1]
    assert 'callscope_streams_refused_total{reason="secret_missing"} 1' in metrics
    assert 'callscope_streams_refused_total{reason="secret_wrong"} 1' in metrics
    assert 'callscope_streams_refused_total{reason="claim_mismatch"} 1' in metrics
    log = server.log()
    assert "s3cr3t-demo" not in log
    assert "not-it-at-all" not in log


async def test_unauthenticated_streams_only_with_the_lab_opt_in(
    server_factory: type[Server], tmp_path: Path
) -> None:
    srv = server_factory(tmp_path / "d", extra_args=["--ingest-allow-unauthenticated"]).start()
    accepted = simulate(srv, tmp_path, credentials=False)
    assert accepted.returncode == 0, accepted.stderr
    calls = (await call("GET", srv.http + "/calls"))[1]["records"]
    assert len(calls) == 1
    # the lab call is recorded but marked as proving no profile
    status, body, _ = await call("GET", f"{srv.http}/calls/{calls[0]['id']}")
    assert status == 200
    assert body["authenticated"] is False
    # a wrong secret is still refused
    wrong = simulate(srv, tmp_path, "--secret", "not-it-at-all")
    assert "HTTP 403" in wrong.stderr


async def test_calls_list_paging_filters_and_errors(server: Server, tmp_path: Path) -> None:
    result = simulate(server, tmp_path, "--calls", "3")
    assert result.returncode == 0, result.stderr
    status, body, _ = await call("GET", server.http + "/calls?perPage=2")
    assert status == 200
    assert body["paging"] == {
        "page": 1, "perPage": 2, "totalPages": 2, "totalElements": 3, "pageStart": 0, "pageEnd": 1,
    }  # fmt: skip
    assert len(body["records"]) == 2
    assert "page=2" in body["navigation"]["nextPage"]["uri"]
    status, page2, _ = await call("GET", body["navigation"]["nextPage"]["uri"])
    assert len(page2["records"]) == 1
    ids = {r["id"] for r in body["records"]} | {r["id"] for r in page2["records"]}
    assert len(ids) == 3

    status, body, _ = await call("GET", server.http + "/calls?agentId=5502")
    assert [r["agentId"] for r in body["records"]] == ["5502"]
    status, body, _ = await call("GET", server.http + "/calls?phoneNumber=6505550001")
    assert [r["ani"] for r in body["records"]] == ["6505550001"]

    for query, name in (("perPage=0", "perPage"), ("page=x", "page"), ("status=odd", "status")):
        status, body, _ = await call("GET", f"{server.http}/calls?{query}")
        assert status == 400
        assert_rc_error(body, "CMN-101")
        assert body["errors"][0]["parameterName"] == name

    status, body, _ = await call("GET", server.http + "/calls/nope")
    assert status == 404
    assert_rc_error(body, "CMN-102")
    status, body, _ = await call("GET", server.http + "/calls/nope/recording")
    assert status == 404
    status, body, _ = await call("GET", server.http + "/no/such/path")
    assert status == 404
    assert_rc_error(body, "CMN-102")
    status, body, _ = await call("DELETE", server.http + "/calls")
    assert status == 405
    assert_rc_error(body, "CMN-101")


async def test_plain_http_on_the_stream_endpoint_is_told_to_upgrade(shared_server: Server) -> None:
    status, body, _ = await call("GET", shared_server.ws.replace("ws://", "http://"))
    assert status == 400
    assert "WebSocket" in body["message"]


async def test_health_and_metrics(server: Server, tmp_path: Path) -> None:
    status, body, _ = await call("GET", server.http + "/health")
    assert status == 200
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["liveCalls"] == 0
    result = simulate(server, tmp_path, "--drop", "0.05", "--malformed", "0.1", "--seed", "4")
    assert result.returncode == 0, result.stderr
    status, text, ctype = await call("GET", server.http + "/metrics")
    assert ctype == "text/plain"
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    assert values["callscope_live_calls"] == 0
    assert values['callscope_calls_total{status="completed"}'] == 1
    received = values['callscope_frames_received_total{perspective="agent"}']
    missing = values['callscope_frames_missing_total{perspective="agent"}']
    assert received + missing == 50  # one second of 20 ms frames
    assert missing > 0
    assert (
        sum(v for k, v in values.items() if k.startswith("callscope_malformed_messages_total")) > 0
    )
    assert values["callscope_frame_lag_seconds_count"] == 50
    for metric in ("late", "duplicate"):
        assert f'callscope_frames_{metric}_total{{perspective="caller"}}' in values
