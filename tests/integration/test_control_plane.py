"""The RingCentral-compatible control plane on a real server: OAuth, auth, extensions,
devices, call monitoring groups, telephony sessions, active calls (spec §2-§7)."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callscope import __version__
from tests.conftest import Server, free_port, make_stereo_fixture
from tests.helpers.login import Login, admin_cli, assert_rc_error, demo_lead, other_account, request
from tests.helpers.runner import simulate, start_simulate

pytestmark = pytest.mark.slow

ACC = "/restapi/v1.0/account/~"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One server with the demo account, a non-admin supervisor in it, and a foreign account."""
    tmp = tmp_path_factory.mktemp("cp")
    server = Server(tmp / "data", port=free_port()).start()
    try:
        creds = server.credentials()
        demo = Login(
            server, creds["clientId"], creds["clientSecret"], creds["username"], creds["password"]
        )
        agent = Login(
            server,
            creds["clientId"],
            creds["clientSecret"],
            "alex@demo.callscope.test",
            creds["password"],
        )
        lead, lead_login = demo_lead(server)
        park = admin_cli(
            server.data_dir,
            "extension",
            "--account",
            "70000001",
            "--number",
            "801",
            "--first-name",
            "Park",
            "--last-name",
            "Spot",
            "--type",
            "ParkLocation",
        )
        other, other_ext = other_account(server)
        yield {
            "server": server,
            "creds": creds,
            "demo": demo,
            "agent": agent,
            "lead": lead_login,
            "lead_id": int(lead["extensionId"]),
            "park_id": int(park["extensionId"]),
            "other": other,
            "other_ext": int(other_ext["extensionId"]),
        }
    finally:
        server.kill()


# -- OAuth -------------------------------------------------------------------------------


async def test_password_grant_token_response_has_what_the_sdk_needs(world: dict[str, Any]) -> None:
    body = await world["demo"].token()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token_expires_in"] == 604800
    assert body["owner_id"] == world["creds"]["supervisor"]["extensionId"]
    for key in ("access_token", "refresh_token", "scope", "session_id", "endpoint_id"):
        assert body[key]


async def test_ttls_are_clamped_to_the_spec_ranges(world: dict[str, Any]) -> None:
    body = await world["demo"].token(access_token_ttl="10", refresh_token_ttl="99999999")
    assert (body["expires_in"], body["refresh_token_expires_in"]) == (600, 2592000)


async def test_password_grant_also_takes_account_id_and_extension(world: dict[str, Any]) -> None:
    demo = world["demo"]
    status, body = await request(
        world["server"],
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={
            "grant_type": "password",
            "username": "70000001",
            "extension": "101",
            "password": demo.password,
        },
    )
    assert status == 200, body
    status, body = await request(
        world["server"],
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={"grant_type": "password", "username": "70000001*101", "password": demo.password},
    )
    assert status == 200, body


@pytest.mark.parametrize(
    ("form", "status", "error", "code"),
    [
        (
            {"grant_type": "password", "username": "sam@demo.callscope.test", "password": "wrong"},
            400,
            "invalid_grant",
            "OAU-140",
        ),
        (
            {"grant_type": "password", "username": "nobody@x.test", "password": "wrong"},
            400,
            "invalid_grant",
            "OAU-140",
        ),
        ({"grant_type": "password"}, 400, "invalid_request", "OAU-101"),
        ({"grant_type": JWT_GRANT}, 400, "invalid_request", "OAU-101"),
        ({"grant_type": JWT_GRANT, "assertion": "a.b.c"}, 400, "invalid_grant", "OAU-140"),
        (
            {"grant_type": "refresh_token", "refresh_token": "R1-unknown"},
            400,
            "invalid_grant",
            "OAU-213",
        ),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type", "OAU-251"),
    ],
)
async def test_token_errors(
    world: dict[str, Any], form: dict[str, str], status: int, error: str, code: str
) -> None:
    got, body = await request(
        world["server"], "POST", "/restapi/oauth/token", headers=world["demo"].basic, data=form
    )
    assert got == status, body
    assert body["error"] == error
    assert body["errors"][0]["errorCode"] == code


async def test_client_authentication_is_required_and_checked(world: dict[str, Any]) -> None:
    form = {
        "grant_type": "password",
        "username": "sam@demo.callscope.test",
        "password": world["demo"].password,
    }
    got, body = await request(world["server"], "POST", "/restapi/oauth/token", data=form)
    assert (got, body["error"]) == (401, "invalid_client")
    bad = Login(world["server"], world["demo"].client_id, "not-the-secret", "", "")
    got, body = await request(
        world["server"], "POST", "/restapi/oauth/token", headers=bad.basic, data=form
    )
    assert (got, body["error"], body["errorCode"]) == (401, "invalid_client", "OAU-146")
    # another account's app cannot log in this account's users
    got, body = await request(
        world["server"], "POST", "/restapi/oauth/token", headers=world["other"].basic, data=form
    )
    assert (got, body["error"]) == (400, "invalid_grant")


async def test_jwt_grant_and_tampered_or_foreign_jwts(world: dict[str, Any]) -> None:
    jwt = world["creds"]["supervisor"]["jwt"]
    demo = world["demo"]
    got, body = await request(
        world["server"],
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={"grant_type": JWT_GRANT, "assertion": jwt},
    )
    assert got == 200, body
    assert body["owner_id"] == world["creds"]["supervisor"]["extensionId"]
    head, claims, sig = jwt.split(".")
    tampered = f"{head}.{claims[:-2]}xx.{sig}"
    got, body = await request(
        world["server"],
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={"grant_type": JWT_GRANT, "assertion": tampered},
    )
    assert (got, body["error"]) == (400, "invalid_grant")
    got, body = await request(
        world["server"],
        "POST",
        "/restapi/oauth/token",
        headers=world["other"].basic,
        data={"grant_type": JWT_GRANT, "assertion": jwt},
    )
    assert (got, body["error"]) == (400, "invalid_grant")
    assert "another account" in body["message"]


async def test_refresh_rotates_and_old_tokens_die(world: dict[str, Any]) -> None:
    demo, server = world["demo"], world["server"]
    first = await demo.token()
    got, second = await request(
        server,
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert got == 200, second
    assert second["session_id"] == first["session_id"]
    assert second["access_token"] != first["access_token"]
    got, body = await request(
        server,
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert (got, body["errors"][0]["errorCode"]) == (400, "OAU-213")  # one use only
    got, body = await request(
        server,
        "GET",
        ACC + "/extension/~",
        headers={"Authorization": f"Bearer {first['access_token']}"},
    )
    assert_rc_error(body, 401, got, "OAU-213")
    got, body = await request(
        server,
        "GET",
        ACC + "/extension/~",
        headers={"Authorization": f"bearer {second['access_token']}"},
    )
    assert got == 200  # lower-case scheme, as the Python SDK sends it


async def test_revoke_ends_the_session(world: dict[str, Any]) -> None:
    demo, server = world["demo"], world["server"]
    tokens = await demo.token()
    got, _ = await request(
        server,
        "POST",
        "/restapi/oauth/revoke",
        headers=demo.basic,
        data={"token": tokens["access_token"]},
    )
    assert got == 200
    got, body = await request(
        server,
        "GET",
        ACC + "/extension/~",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert_rc_error(body, 401, got, "OAU-213")
    got, body = await request(
        server,
        "POST",
        "/restapi/oauth/token",
        headers=demo.basic,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert got == 400
    got, _ = await request(server, "POST", "/restapi/oauth/revoke", data={"token": "x"})
    assert got == 401  # revoke needs client authentication too


async def test_expired_token_says_so(world: dict[str, Any]) -> None:
    tokens = await world["demo"].token()
    digest = hashlib.sha256(tokens["access_token"].encode()).hexdigest()
    with sqlite3.connect(world["server"].data_dir / "callscope.db") as db:
        db.execute(
            "UPDATE tokens SET expires_at = '2020-01-01 00:00:00' WHERE token_hash = ?", (digest,)
        )
    got, body = await request(
        world["server"],
        "GET",
        ACC + "/extension",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert_rc_error(body, 401, got, "OAU-128")


async def test_wstoken(world: dict[str, Any]) -> None:
    got, body = await request(
        world["server"], "POST", "/restapi/oauth/wstoken", headers=await world["demo"].headers()
    )
    assert got == 200, body
    assert body["ws_access_token"].startswith("W1-")
    assert body["uri"].startswith("ws://127.0.0.1:")
    assert "?" not in body["uri"]  # the SDK appends ?access_token=
    assert body["expires_in"] > 0


@pytest.mark.parametrize(
    "path",
    [
        ACC + "/extension",
        ACC + "/call-monitoring-groups",
        ACC + "/active-calls",
        "/calls",
        "/platform/api/media/product",
        "/restapi/oauth/wstoken",
    ],
)
@pytest.mark.parametrize(
    ("header", "code"), [(None, "OAU-123"), ("Basic abc", "OAU-123"), ("Bearer nope", "OAU-213")]
)
async def test_every_protected_route_needs_a_valid_token(
    world: dict[str, Any], path: str, header: str | None, code: str
) -> None:
    headers = {"Authorization": header} if header else {}
    method = "POST" if path.endswith("wstoken") else "GET"
    got, body = await request(world["server"], method, path, headers=headers)
    assert_rc_error(body, 401, got, code)


# -- extensions and devices ----------------------------------------------------------------


async def test_extension_list_filters_paging_and_fields(world: dict[str, Any]) -> None:
    server, headers = world["server"], await world["demo"].headers()
    # raw, unencoded query with repeated keys, as the Python SDK sends it
    got, body = await request(
        server, "GET", ACC + "/extension?type=User&status=Enabled", headers=headers
    )
    assert got == 200
    numbers = [r["extensionNumber"] for r in body["records"]]
    assert numbers == ["101", "102", "103", "104", "110"]
    sam = body["records"][0]
    assert isinstance(sam["id"], int)
    assert sam["permissions"]["admin"]["enabled"] is True
    assert body["records"][1]["permissions"]["admin"]["enabled"] is False
    assert sam["contact"]["email"] == "sam@demo.callscope.test"
    assert sam["uri"].endswith(f"/restapi/v1.0/account/70000001/extension/{sam['id']}")
    got, body = await request(server, "GET", ACC + "/extension?type=ParkLocation", headers=headers)
    assert [r["extensionNumber"] for r in body["records"]] == ["801"]
    got, body = await request(
        server, "GET", ACC + "/extension?extensionNumber=103", headers=headers
    )
    assert [r["contact"]["firstName"] for r in body["records"]] == ["Blair"]
    got, body = await request(
        server, "GET", ACC + "/extension?email=ALEX@demo.callscope.test", headers=headers
    )
    assert [r["extensionNumber"] for r in body["records"]] == ["102"]
    got, body = await request(server, "GET", ACC + "/extension?perPage=2&page=2", headers=headers)
    assert [r["extensionNumber"] for r in body["records"]] == ["103", "104"]
    assert body["paging"]["totalElements"] == 6
    assert "page=3" in body["navigation"]["nextPage"]["uri"]
    got, body = await request(
        server, "GET", "/restapi/v1.0/account/70000001/extension/~", headers=headers
    )
    assert (got, body["extensionNumber"]) == (200, "101")


async def test_foreign_accounts_and_unknown_ids_are_404(world: dict[str, Any]) -> None:
    server, headers = world["server"], await world["demo"].headers()
    for path in (
        "/restapi/v1.0/account/80000001/extension",
        f"{ACC}/extension/{world['other_ext']}",
        f"{ACC}/extension/{world['other_ext']}/device",
        f"{ACC}/extension/abc",
        f"{ACC}/extension/999",
    ):
        got, body = await request(server, "GET", path, headers=headers)
        assert_rc_error(body, 404, got, "CMN-102")
    other = await world["other"].headers()
    got, body = await request(server, "GET", ACC + "/extension", headers=other)
    assert [r["contact"]["firstName"] for r in body["records"]] == ["Olly"]


async def test_devices(world: dict[str, Any]) -> None:
    server, headers = world["server"], await world["demo"].headers()
    got, body = await request(server, "GET", ACC + "/extension/~/device", headers=headers)
    assert got == 200
    softphone, web_phone = sorted(body["records"], key=lambda d: d["type"])
    assert (softphone["type"], softphone["status"]) == ("SoftPhone", "Offline")
    # the demo supervisor's web phone: the supervisorDeviceId of the samples, once connected
    assert (web_phone["type"], web_phone["status"]) == ("WebPhone", "Offline")
    assert web_phone["id"] == world["creds"]["supervisor"]["deviceId"]
    assert isinstance(softphone["id"], str)
    assert softphone["extension"]["extensionNumber"] == "101"
    got, body = await request(
        server, "GET", ACC + "/extension/~/device?type=HardPhone", headers=headers
    )
    assert body["records"] == []
    sup_id = world["creds"]["supervisor"]["extensionId"]
    agent = await world["agent"].headers()
    got, body = await request(server, "GET", f"{ACC}/extension/{sup_id}/device", headers=agent)
    assert_rc_error(body, 403, got, "CMN-404")

    # the account's devices: an admin sees all, anyone else their own; each record's uri
    # is the device's own read
    got, body = await request(server, "GET", ACC + "/device", headers=headers)
    assert got == 200, body
    owners = sorted(d["extension"]["extensionNumber"] for d in body["records"])
    assert owners == ["101", "101", "102", "103", "104"]
    assert body["paging"]["totalElements"] == 5
    got, body = await request(server, "GET", ACC + "/device?type=WebPhone", headers=headers)
    assert [d["id"] for d in body["records"]] == [web_phone["id"]]
    async with aiohttp.ClientSession() as http, http.get(web_phone["uri"], headers=headers) as r:
        assert r.status == 200
        assert await r.json() == web_phone
    got, mine = await request(server, "GET", ACC + "/device", headers=agent)
    (desk,) = mine["records"]
    assert (desk["type"], desk["extension"]["extensionNumber"]) == ("HardPhone", "102")
    got, one = await request(server, "GET", f"{ACC}/device/{desk['id']}", headers=agent)
    assert one == desk
    for device_id in (web_phone["id"], "999", "abc"):  # another's is as unknown
        got, err = await request(server, "GET", f"{ACC}/device/{device_id}", headers=agent)
        assert_rc_error(err, 404, got, "CMN-102")


async def test_account_version_and_client_info(world: dict[str, Any]) -> None:
    server, headers = world["server"], await world["demo"].headers()
    got, account = await request(server, "GET", ACC, headers=headers)
    assert got == 200, account
    assert account["id"] == 70000001
    assert account["uri"].endswith("/restapi/v1.0/account/70000001")
    assert (account["status"], account["setupWizardState"]) == ("Confirmed", "Completed")
    assert "mainNumber" not in account  # callscope knows none
    got, service = await request(server, "GET", ACC + "/service-info", headers=headers)
    assert (got, service) == (200, account["serviceInfo"])
    got, same = await request(
        server, "GET", "/restapi/v1.0/account/70000001", headers=await world["agent"].headers()
    )
    assert (got, same) == (200, account)
    got, err = await request(
        server, "GET", "/restapi/v1.0/account/70000001", headers=await world["other"].headers()
    )
    assert_rc_error(err, 404, got, "CMN-102")

    got, versions = await request(server, "GET", "/restapi")
    assert got == 200, versions
    assert versions["uri"].endswith("/restapi")
    (v1,) = versions["apiVersions"]
    assert (v1["versionString"], v1["uriString"]) == ("1.0", "v1.0")
    assert v1["uri"].endswith("/restapi/v1.0")
    assert versions["serverVersion"] == versions["serverRevision"] == __version__
    got, version = await request(server, "GET", "/restapi/v1.0")
    assert (got, version) == (200, v1)

    got, client = await request(
        server,
        "GET",
        "/restapi/v1.0/client-info",
        headers={**headers, "User-Agent": "Acme-Monitor/2.5.1 linux/6"},
    )
    assert got == 200, client
    assert client["uri"].endswith("/restapi/v1.0/client-info")
    assert client["client"] == {
        "appId": world["creds"]["clientId"],
        "appName": "Demo supervision app",
        "appVersion": "2.5.1",
    }
    got, client = await request(
        server, "GET", "/restapi/v1.0/client-info", headers={**headers, "User-Agent": "probe"}
    )
    assert "appVersion" not in client["client"]  # no version in the User-Agent: none said
    got, err = await request(server, "GET", "/restapi/v1.0/client-info")
    assert_rc_error(err, 401, got, "OAU-123")


# -- call monitoring groups ------------------------------------------------------------


async def test_monitoring_group_lifecycle_and_bulk_assign(world: dict[str, Any]) -> None:
    server, headers = world["server"], await world["demo"].headers()
    creds = world["creds"]
    sup = int(creds["supervisor"]["extensionId"])
    alex, blair = (int(a["extensionId"]) for a in creds["agents"][:2])
    got, seeded = await request(
        server, "GET", f"{ACC}/call-monitoring-groups?memberExtensionId={alex}", headers=headers
    )
    demo_team = [g["id"] for g in seeded["records"] if g["name"] == "Demo team"]
    assert len(demo_team) == 1  # the first start's: Sam monitoring the demo agents
    got, group = await request(
        server, "POST", ACC + "/call-monitoring-groups", headers=headers, json={"name": "Tier 1"}
    )
    assert got == 200, group
    assert set(group) >= {"id", "name", "uri"}
    gid = group["id"]
    base = f"{ACC}/call-monitoring-groups/{gid}"
    body = {
        "addedExtensions": [
            {"id": sup, "permissions": ["Monitoring"]},  # numeric id, as the Python sample sends
            {"id": str(alex), "permissions": ["Monitored"]},
            {"id": str(blair), "permissions": ["Monitored", "Monitoring"]},
        ]
    }
    got, text = await request(server, "POST", base + "/bulk-assign", headers=headers, json=body)
    assert (got, text) == (204, "")
    got, members = await request(server, "GET", base + "/members", headers=headers)
    perms = {m["id"]: m["permissions"] for m in members["records"]}
    assert perms == {
        str(sup): ["Monitoring"],
        str(alex): ["Monitored"],
        str(blair): ["Monitoring", "Monitored"],
    }
    assert members["paging"]["totalElements"] == 3
    got, _ = await request(
        server,
        "POST",
        base + "/bulk-assign",
        headers=headers,
        json={
            "updatedExtensions": [{"id": blair, "permissions": ["Monitored"]}],
            "removedExtensions": [{"id": str(sup), "permissions": []}],
        },
    )
    assert got == 204
    got, members = await request(server, "GET", base + "/members", headers=headers)
    assert {m["id"]: m["permissions"] for m in members["records"]} == {
        str(alex): ["Monitored"],
        str(blair): ["Monitored"],
    }
    # an empty permissions list removes
    got, _ = await request(
        server,
        "POST",
        base + "/bulk-assign",
        headers=headers,
        json={"updatedExtensions": [{"id": blair, "permissions": []}]},
    )
    assert got == 204
    got, listed = await request(
        server, "GET", f"{ACC}/call-monitoring-groups?memberExtensionId={alex}", headers=headers
    )
    assert [g["id"] for g in listed["records"]] == [*demo_team, gid]
    got, listed = await request(
        server, "GET", f"{ACC}/call-monitoring-groups?memberExtensionId={blair}", headers=headers
    )
    assert [g["id"] for g in listed["records"]] == demo_team
    got, renamed = await request(server, "PUT", base, headers=headers, json={"name": "Tier 2"})
    assert (got, renamed["name"], renamed["id"]) == (200, "Tier 2", gid)
    got, text = await request(server, "DELETE", base, headers=headers)
    assert got == 204
    got, body = await request(server, "GET", base + "/members", headers=headers)
    assert_rc_error(body, 404, got, "CMN-102")


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        (
            {"addedExtensions": [{"id": "PARK", "permissions": ["Monitored"]}]},
            "CMN-101",
            "could not be a member of [call monitoring]",
        ),
        ({"addedExtensions": [{"id": 123, "permissions": ["Monitored"]}]}, "CMN-102", "not found"),
        (
            {"addedExtensions": [{"id": "SUP", "permissions": ["Watching"]}]},
            "CMN-101",
            "Monitoring and/or Monitored",
        ),
        (
            {"addedExtensions": [{"id": "TEST-AGENT-EXTENSIONID", "permissions": ["Monitored"]}]},
            "CMN-101",
            "invalid",
        ),
        (
            {"updatedExtensions": [{"id": "SUP", "permissions": ["Monitoring"]}]},
            "CMN-102",
            "not a member",
        ),
        ({"addedExtensions": "all"}, "CMN-101", "use a list"),
        # the official sample posts null when its extension list failed: not a no-op
        ({"addedExtensions": None}, "CMN-101", "[addedExtensions]"),
        ({"updatedExtensions": None}, "CMN-101", "[updatedExtensions]"),
        (
            {
                "addedExtensions": [{"id": "SUP", "permissions": ["Monitoring"]}],
                "removedExtensions": None,
            },
            "CMN-101",
            "[removedExtensions]",
        ),
        (
            {
                "addedExtensions": [{"id": "SUP", "permissions": ["Monitoring"]}],
                "removedExtensions": [{"id": "SUP"}],
            },
            "CMN-101",
            "more than once",
        ),
        (
            {"addedExtensions": [{"id": "FOREIGN", "permissions": ["Monitored"]}]},
            "CMN-102",
            "not found",
        ),
    ],
)
async def test_bulk_assign_refusals_change_nothing(
    world: dict[str, Any], payload: dict[str, Any], code: str, fragment: str
) -> None:
    server, headers = world["server"], await world["demo"].headers()
    ids = {
        "PARK": world["park_id"],
        "SUP": world["creds"]["supervisor"]["extensionId"],
        "FOREIGN": world["other_ext"],
    }
    for items in payload.values():
        if isinstance(items, list):
            for item in items:
                item["id"] = (
                    ids.get(item["id"], item["id"]) if isinstance(item["id"], str) else item["id"]
                )
    got, group = await request(
        server,
        "POST",
        ACC + "/call-monitoring-groups",
        headers=headers,
        json={
            "name": f"refusals {len(payload)} {code} {fragment} {id(payload)}"
        },  # names are unique
    )
    base = f"{ACC}/call-monitoring-groups/{group['id']}"
    got, body = await request(server, "POST", base + "/bulk-assign", headers=headers, json=payload)
    assert_rc_error(body, 400, got, code)
    assert fragment in body["message"]
    if None in payload.values():
        named = next(k for k, v in payload.items() if v is None)
        assert body["errors"][0]["parameterName"] == named
    got, members = await request(server, "GET", base + "/members", headers=headers)
    assert members["records"] == []


async def test_group_permissions_and_foreign_access(world: dict[str, Any]) -> None:
    server = world["server"]
    agent = await world["agent"].headers()
    got, body = await request(
        server, "POST", ACC + "/call-monitoring-groups", headers=agent, json={"name": "mine"}
    )
    assert_rc_error(body, 403, got, "CMN-408")
    assert body["errors"][0]["permissionName"] == "Groups"
    headers = await world["demo"].headers()
    for bad in ({}, {"name": ""}, {"name": 5}, {"name": "x" * 200}):
        got, body = await request(
            server, "POST", ACC + "/call-monitoring-groups", headers=headers, json=bad
        )
        assert_rc_error(body, 400, got, "CMN-101")
    got, group = await request(
        server, "POST", ACC + "/call-monitoring-groups", headers=headers, json={"name": "ours"}
    )
    other = await world["other"].headers()
    for method, suffix, payload in (
        ("GET", "/members", None),
        ("PUT", "", {"name": "x"}),
        ("DELETE", "", None),
        ("POST", "/bulk-assign", {}),
    ):
        got, body = await request(
            server,
            method,
            f"{ACC}/call-monitoring-groups/{group['id']}{suffix}",
            headers=other,
            json=payload,
        )
        assert_rc_error(body, 404, got, "CMN-102")
    got, listed = await request(server, "GET", ACC + "/call-monitoring-groups", headers=other)
    assert listed["records"] == []
    got, listed = await request(server, "GET", ACC + "/call-monitoring-groups", headers=agent)
    assert group["id"] in [g["id"] for g in listed["records"]]  # reading needs no admin


# -- telephony sessions and active calls ---------------------------------------------------


async def _wait(predicate: Any, timeout: float = 20) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not met in time")


async def test_a_streamed_call_is_a_telephony_session_with_active_calls(
    world: dict[str, Any], tmp_path: Path
) -> None:
    server = world["server"]
    headers = await world["demo"].headers()
    creds = world["creds"]
    alex = creds["agents"][0]["extensionId"]  # RingCX agent 5501: the simulator's first call
    blair = creds["agents"][1]["extensionId"]
    make_stereo_fixture(tmp_path / "f.wav", seconds=4)  # what is done while it is live: < 1 s
    sim = start_simulate(server, "--source", str(tmp_path / "f.wav"))
    try:

        async def active() -> list[dict[str, Any]]:
            got, body = await request(server, "GET", ACC + "/active-calls", headers=headers)
            assert got == 200, body
            return body["records"]  # type: ignore[no-any-return]

        (record,) = await _wait(active)
        assert record["result"] == "In Progress"
        assert record["direction"] == "Inbound"
        assert record["extension"]["id"] == int(alex)
        assert record["to"]["extensionId"] == alex
        assert record["from"]["phoneNumber"] == "+16505550000"  # E.164
        assert record["from"]["dialerPhoneNumber"] == "6505550000"  # as the stream sent it
        sid, pid = record["telephonySessionId"], record["partyId"]

        got, body = await request(
            server, "GET", f"{ACC}/extension/{alex}/active-calls?perPage=max", headers=headers
        )
        assert [r["telephonySessionId"] for r in body["records"]] == [sid]
        got, body = await request(
            server, "GET", f"{ACC}/extension/{blair}/active-calls", headers=headers
        )
        assert body["records"] == []

        got, session = await request(
            server, "GET", f"{ACC}/telephony/sessions/{sid}", headers=headers
        )
        assert got == 200, session
        customer, agent = session["parties"]
        assert customer["status"]["code"] == agent["status"]["code"] == "Answered"
        assert agent["id"] == pid
        assert agent["extensionId"] == alex
        assert agent["owner"] == {"accountId": "70000001", "extensionId": alex}
        assert agent["direction"] == "Inbound"
        assert "extensionId" not in customer
        assert customer["from"]["phoneNumber"] == "+16505550000"
        got, party = await request(
            server, "GET", f"{ACC}/telephony/sessions/{sid}/parties/{pid}", headers=headers
        )
        assert party == agent

        # the agent's presence, as its events say it (spec §9.3)
        got, presence = await request(
            server,
            "GET",
            f"{ACC}/extension/{alex}/presence?detailedTelephonyState=true",
            headers=headers,
        )
        assert got == 200, presence
        assert (presence["telephonyStatus"], presence["presenceStatus"]) == (
            "CallConnected",
            "Busy",
        )
        assert presence["extension"]["id"] == int(alex)
        assert presence["extension"]["uri"].endswith(f"/account/70000001/extension/{alex}")
        assert presence["uri"].endswith(f"/account/70000001/extension/{alex}/presence")
        (call,) = presence["activeCalls"]
        assert (call["telephonySessionId"], call["partyId"]) == (sid, pid)
        assert (call["direction"], call["telephonyStatus"]) == ("Inbound", "CallConnected")
        assert call["from"] == "+16505550000"
        assert presence["totalActiveCalls"] == 1
        got, simple = await request(
            server, "GET", f"{ACC}/extension/{alex}/presence", headers=headers
        )
        assert "activeCalls" not in simple
        assert simple["telephonyStatus"] == "CallConnected"
        got, everyone = await request(server, "GET", ACC + "/presence", headers=headers)
        assert got == 200, everyone
        status = {
            r["extension"]["extensionNumber"]: r["telephonyStatus"] for r in everyone["records"]
        }
        assert status["102"] == "CallConnected"
        assert status["103"] == status["101"] == "NoCall"
        assert everyone["paging"]["totalElements"] == len(everyone["records"])
        got, err = await request(
            server,
            "GET",
            f"{ACC}/extension/{alex}/presence?detailedTelephonyState=yes",
            headers=headers,
        )
        assert_rc_error(err, 400, got, "CMN-101")

        # permissions: an agent cannot list company calls nor another agent's calls; a
        # supervisor (not an admin) may once a monitoring group allows it
        agent_headers = await world["agent"].headers()
        got, own = await request(
            server, "GET", f"{ACC}/extension/~/presence", headers=agent_headers
        )
        assert (got, own["telephonyStatus"]) == (200, "CallConnected")
        got, err = await request(
            server, "GET", f"{ACC}/extension/{blair}/presence", headers=agent_headers
        )
        assert_rc_error(err, 403, got, "CMN-404")
        got, err = await request(server, "GET", ACC + "/presence", headers=agent_headers)
        assert_rc_error(err, 403, got, "CMN-408")
        got, body = await request(server, "GET", ACC + "/active-calls", headers=agent_headers)
        assert_rc_error(body, 403, got, "CMN-408")
        got, body = await request(
            server, "GET", f"{ACC}/extension/~/active-calls", headers=agent_headers
        )
        assert [r["telephonySessionId"] for r in body["records"]] == [sid]
        lead = await world["lead"].headers()
        got, body = await request(
            server, "GET", f"{ACC}/extension/{alex}/active-calls", headers=lead
        )
        assert_rc_error(body, 403, got, "CMN-404")
        got, body = await request(server, "GET", f"{ACC}/extension/{alex}/presence", headers=lead)
        assert_rc_error(body, 403, got, "CMN-404")
        got, group = await request(
            server, "POST", ACC + "/call-monitoring-groups", headers=headers, json={"name": "leads"}
        )
        got, _ = await request(
            server,
            "POST",
            f"{ACC}/call-monitoring-groups/{group['id']}/bulk-assign",
            headers=headers,
            json={
                "addedExtensions": [
                    {"id": world["lead_id"], "permissions": ["Monitoring"]},
                    {"id": alex, "permissions": ["Monitored"]},
                ],
            },
        )
        assert got == 204
        got, body = await request(
            server, "GET", f"{ACC}/extension/{alex}/active-calls", headers=lead
        )
        assert [r["telephonySessionId"] for r in body["records"]] == [sid]
        got, body = await request(server, "GET", f"{ACC}/extension/{alex}/presence", headers=lead)
        assert (got, body["telephonyStatus"]) == (200, "CallConnected")

        # another account sees none of it
        other = await world["other"].headers()
        got, body = await request(server, "GET", f"{ACC}/extension/{alex}/presence", headers=other)
        assert_rc_error(body, 404, got, "CMN-102")
        got, body = await request(server, "GET", f"{ACC}/telephony/sessions/{sid}", headers=other)
        assert_rc_error(body, 404, got, "CMN-102")
        got, body = await request(server, "GET", ACC + "/active-calls", headers=other)
        assert body["records"] == []
        got, body = await request(server, "GET", "/calls", headers=other)
        assert body["records"] == []
    finally:
        _, err = sim.communicate(timeout=60)
    assert sim.returncode == 0, err

    async def ended() -> dict[str, Any] | None:
        _, session = await request(
            server, "GET", f"{ACC}/telephony/sessions/{sid}", headers=headers
        )
        return session if session["parties"][0]["status"]["code"] == "Disconnected" else None

    session = await _wait(ended)
    assert [p["status"] for p in session["parties"]] == [
        {"code": "Disconnected", "reason": "CallFinished", "rcc": False}
    ] * 2
    got, body = await request(server, "GET", ACC + "/active-calls", headers=headers)
    assert body["records"] == []
    got, presence = await request(
        server,
        "GET",
        f"{ACC}/extension/{alex}/presence?detailedTelephonyState=true",
        headers=headers,
    )
    assert (presence["telephonyStatus"], presence["activeCalls"]) == ("NoCall", [])
    assert presence["presenceStatus"] == "Available"
    got, calls = await request(server, "GET", "/calls", headers=headers)
    mine = [c for c in calls["records"] if c["telephonySessionId"] == sid]
    assert len(mine) == 1
    assert mine[0]["accountId"] == "70000001"
    got, body = await request(server, "GET", f"/calls/{mine[0]['id']}", headers=other)
    assert_rc_error(body, 404, got, "CMN-102")


async def test_unknown_sessions_and_parties(world: dict[str, Any]) -> None:
    server, headers = world["server"], await world["demo"].headers()
    got, body = await request(server, "GET", f"{ACC}/telephony/sessions/s-nope", headers=headers)
    assert_rc_error(body, 404, got, "CMN-102")
    assert body["errors"][0]["parameterName"] == "telephonySessionId"


async def test_profiles_need_an_admin_and_stay_in_their_account(world: dict[str, Any]) -> None:
    server = world["server"]
    profile = {
        "productType": "QUEUE",
        "productId": 777,
        "subAccountId": "88800099",
        "mainAccountId": "88800010",
        "rcAccountId": "70000001",
        "streamingUrl": "wss://x.test",
    }
    got, body = await request(
        server,
        "POST",
        "/platform/api/media/product",
        headers=await world["agent"].headers(),
        json=profile,
    )
    assert_rc_error(body, 403, got, "CMN-408")
    got, body = await request(
        server,
        "POST",
        "/platform/api/media/product",
        headers=await world["demo"].headers(),
        json={**profile, "rcAccountId": "80000001"},
    )
    assert_rc_error(body, 400, got, "CMN-101")
    got, body = await request(
        server,
        "POST",
        "/platform/api/media/product",
        headers=await world["demo"].headers(),
        json=profile,
    )
    assert got == 200, body
    one = "/platform/api/media/product/account/88800099/type/QUEUE/id/777"
    got, body = await request(server, "GET", one, headers=await world["other"].headers())
    assert_rc_error(body, 404, got, "CMN-102")
    got, body = await request(
        server, "GET", "/platform/api/media/product", headers=await world["other"].headers()
    )
    assert body["records"] == []


async def test_a_foreign_token_gets_404_on_every_route_naming_our_resources(
    world: dict[str, Any], tmp_path: Path
) -> None:
    server, headers = world["server"], await world["demo"].headers()
    other = await world["other"].headers()
    _, group = await request(
        server, "POST", ACC + "/call-monitoring-groups", headers=headers, json={"name": "g"}
    )
    _, calls = await request(server, "GET", "/calls?perPage=1", headers=headers)
    assert calls["records"], "an earlier test streamed a call into the demo account"
    call = calls["records"][0]
    sid = call["telephonySessionId"]
    sup = world["creds"]["supervisor"]["extensionId"]
    routes = [
        ("GET", f"{ACC}/extension/{sup}"),
        ("GET", f"{ACC}/extension/{sup}/device"),
        ("GET", f"{ACC}/extension/{sup}/presence"),
        ("GET", f"{ACC}/device/{world['creds']['supervisor']['deviceId']}"),
        ("GET", "/restapi/v1.0/account/70000001"),
        ("GET", "/restapi/v1.0/account/70000001/presence"),
        ("GET", "/restapi/v1.0/account/70000001/device"),
        ("GET", f"{ACC}/extension/{sup}/active-calls"),
        ("GET", f"{ACC}/call-monitoring-groups/{group['id']}/members"),
        ("PUT", f"{ACC}/call-monitoring-groups/{group['id']}"),
        ("DELETE", f"{ACC}/call-monitoring-groups/{group['id']}"),
        ("POST", f"{ACC}/call-monitoring-groups/{group['id']}/bulk-assign"),
        ("GET", f"{ACC}/telephony/sessions/{sid}"),
        ("GET", f"{ACC}/telephony/sessions/{sid}/parties/p-{call['id']}-2"),
        ("GET", f"/calls/{call['id']}"),
        ("GET", f"/calls/{call['id']}/recording"),
        ("GET", "/restapi/v1.0/account/70000001/extension"),
    ]
    for method, path in routes:
        payload = {"name": "x"} if method in ("PUT", "POST") else None
        got, body = await request(server, method, path, headers=other, json=payload)
        assert_rc_error(body, 404, got, "CMN-102")
    # and our own token still reaches them
    got, _ = await request(server, "GET", f"/calls/{call['id']}/recording", headers=headers)
    assert got == 200


async def test_a_vanished_sender_disconnects_its_parties(
    world: dict[str, Any], tmp_path: Path
) -> None:
    server, headers = world["server"], await world["demo"].headers()
    make_stereo_fixture(tmp_path / "f.wav", seconds=6)
    result = simulate(
        server,
        "--source",
        str(tmp_path / "f.wav"),
        *("--vanish", "1", "--speed", "2"),
        "--seed",
        "77",
    )
    assert result.returncode == 0, result.stderr

    async def dropped() -> dict[str, Any] | None:
        _, calls = await request(server, "GET", "/calls?status=abandoned", headers=headers)
        mine = [c for c in calls["records"] if c["ringcxCallId"] == "sim-77-00001"]
        if not mine:
            return None
        _, session = await request(
            server,
            "GET",
            f"{ACC}/telephony/sessions/{mine[0]['telephonySessionId']}",
            headers=headers,
        )
        return session if session["parties"][0]["status"]["code"] == "Disconnected" else None

    session = await _wait(dropped)
    assert [p["status"]["reason"] for p in session["parties"]] == ["CallDropped", "CallDropped"]
    _, active = await request(server, "GET", ACC + "/active-calls", headers=headers)
    assert session["id"] not in [r["telephonySessionId"] for r in active["records"]]
