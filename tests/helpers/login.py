"""Logins and requests: the admin CLI, an app plus a user (``Login``), a foreign account,
the demo account's people, a request that decodes its answer, RingCentral error checks."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from tests.conftest import EXEC_SERVERS_ENV, FAST_SCRYPT_ENV, Server
from tests.helpers import forkserve


def admin_cli(data_dir: Path, *args: str) -> dict[str, Any]:
    """`callscope admin ... --data-dir data_dir` (forked like the servers, see
    tests/helpers/forkserve.py); its JSON output."""
    argv = ["admin", *args, "--data-dir", str(data_dir)]
    env = {**os.environ, **FAST_SCRYPT_ENV}
    if os.environ.get(EXEC_SERVERS_ENV):
        result = subprocess.run(
            [sys.executable, "-m", "callscope", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        code, out, err = result.returncode, result.stdout, result.stderr
    else:
        code, out, err = forkserve.run(argv, env, data_dir.parent, timeout_s=60)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


@dataclass
class Login:
    """An app plus a user in some account, and a way to get tokens for it."""

    server: Server
    client_id: str
    client_secret: str
    username: str
    password: str

    @property
    def basic(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    async def token(self, **extra: str) -> dict[str, Any]:
        form = {
            "grant_type": "password",
            "username": self.username,
            "password": self.password,
            **extra,
        }
        status, body = await request(
            self.server, "POST", "/restapi/oauth/token", headers=self.basic, data=form
        )
        assert status == 200, body
        return body  # type: ignore[no-any-return]

    async def headers(self) -> dict[str, str]:
        """Bearer headers of this user: a token this user got before on this server while it
        still works (one password check is a whole scrypt), else a new one. A test that needs
        a token of its own calls ``token()``."""
        key = (self.server.http, str(self.server.data_dir), self.client_id, self.username)
        known = _TOKENS.get(key)
        if known is not None and known[0] == self.password:
            bearer = {"Authorization": f"Bearer {known[1]}"}
            status, _ = await request(self.server, "GET", _ME, headers=bearer)
            if status == 200:
                return bearer
        access = (await self.token())["access_token"]
        _TOKENS[key] = (self.password, access)
        return {"Authorization": f"Bearer {access}"}


#: (server, data dir, app, username) → (password, access token) of earlier ``Login.headers``
_TOKENS: dict[tuple[str, str, str, str], tuple[str, str]] = {}
#: what any signed-in user may read: checks that a kept token still works
_ME = "/restapi/v1.0/account/~/extension/~"


async def request(server: Server, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as s, s.request(method, server.http + path, **kwargs) as r:
        if r.content_type == "application/json":
            return r.status, await r.json()
        if r.content_type.startswith("audio/"):
            return r.status, await r.read()
        return r.status, await r.text()


def assert_rc_error(body: Any, status: int, got: int, code: str) -> None:
    assert got == status, body
    assert body["errorCode"] == code, body
    assert body["errors"][0]["errorCode"] == code
    assert body["message"]


def other_account(server: Server) -> tuple[Login, dict[str, Any]]:
    """A second account 80000001 with an admin user (ext 101) and an app of its own: the
    foreign caller every scoping test needs. Returns its login and its extension."""
    admin_cli(server.data_dir, "account", "--id", "80000001", "--name", "Other Co")
    ext = admin_cli(
        server.data_dir,
        "extension",
        "--account",
        "80000001",
        "--number",
        "101",
        "--first-name",
        "Olly",
        "--last-name",
        "Other",
        "--email",
        "olly@other.test",
        "--admin",
        "--password",
        "other-pass-1",
    )
    app = admin_cli(server.data_dir, "app", "--account", "80000001", "--name", "other")
    login = Login(server, app["clientId"], app["clientSecret"], "olly@other.test", "other-pass-1")
    return login, ext


def demo_lead(server: Server) -> tuple[dict[str, Any], Login]:
    """A second supervisor in the demo account, Lee Lead (ext 110, not an admin): the
    extension admin_cli made and a login for it."""
    creds = server.credentials()
    ext = admin_cli(
        server.data_dir,
        "extension",
        "--account",
        "70000001",
        "--number",
        "110",
        "--first-name",
        "Lee",
        "--last-name",
        "Lead",
        "--email",
        "lee@demo.callscope.test",
        "--password",
        "lead-pass-1",
    )
    login = Login(
        server, creds["clientId"], creds["clientSecret"], "lee@demo.callscope.test", "lead-pass-1"
    )
    return ext, login


def demo_login(server: Server, first_name: str) -> Login:
    """A login of one of the demo account's people (Sam, Alex, Blair, Casey): the demo app
    and the demo password they share."""
    creds = server.credentials()
    return Login(
        server,
        creds["clientId"],
        creds["clientSecret"],
        f"{first_name.lower()}@demo.callscope.test",
        creds["password"],
    )
