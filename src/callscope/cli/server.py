"""``callscope serve``, ``drain`` and ``settings``: run a server, stop one, show its settings."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from callscope import __version__
from callscope.cli.common import Subcommands, load_settings, setup_logging
from callscope.config import add_settings_arguments, settings_table
from callscope.errors import CallscopeError
from callscope.logsafe import redacted_url

__all__ = ["add_drain", "add_serve", "add_settings"]


def _cmd_serve(args: argparse.Namespace) -> int:
    from callscope.server import preflight, run

    settings = load_settings(args)
    setup_logging(settings.log_level)
    asyncio.run(preflight(settings))  # a bad data_dir or database_url: one line, exit 2
    log = logging.getLogger("callscope")
    log.info(
        "callscope %s on http://%s:%d (data in %s)",
        __version__,
        settings.host,
        settings.port,
        settings.data_dir.resolve(),
    )
    log.info(
        "RingCX streams: ws://%s:%d/ringcx/stream (or /); REST: /calls, "
        "/platform/api/media/product",
        settings.host,
        settings.port,
    )
    if not settings.loopback_only and not (settings.behind_tls_proxy or settings.http_tls):
        log.warning(
            "listening on %s over plain HTTP: access tokens, streaming secrets and call audio "
            "cross the network in clear unless a TLS-terminating proxy is in front (see "
            "deploy/nginx.conf); with one, set --behind-tls-proxy "
            "(CALLSCOPE_BEHIND_TLS_PROXY=true) to silence this",
            settings.host or "every interface",
        )
    run(settings)
    return 0


def _cmd_drain(args: argparse.Namespace) -> int:
    """Ask a running server to drain (``POST /admin/drain`` with an admin's bearer token)."""
    import aiohttp

    base = str(args.url).rstrip("/")
    token = args.token or os.environ.get("CALLSCOPE_ADMIN_TOKEN")
    login = None if token else _admin_login(args.credentials)

    async def go() -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
            if login is not None:
                async with http.post(
                    base + "/restapi/oauth/token", data=login[1], auth=login[0]
                ) as r:
                    body = await r.json(content_type=None)
                if r.status != 200 or not isinstance(body, dict) or "access_token" not in body:
                    raise CallscopeError(
                        f"{base}: the login in {args.credentials} was refused ({r.status}); "
                        "pass an admin's access token with --token or $CALLSCOPE_ADMIN_TOKEN"
                    )
                token_ = str(body["access_token"])
            else:
                token_ = str(token)
            async with http.post(
                base + "/admin/drain", headers={"Authorization": f"Bearer {token_}"}
            ) as r:
                body = await r.json(content_type=None)
                if r.status != 202:
                    why = body.get("message") if isinstance(body, dict) else None
                    raise CallscopeError(f"{base} refused the drain: {r.status} {why or ''}")
            print(
                f"{base}: draining; {body['liveStreams']} live stream(s) get up to "
                f"{body['drainTimeoutS']:g} s to end, new ones are refused"
            )
            if not args.wait:
                return
            deadline = time.monotonic() + float(body["drainTimeoutS"]) + 30.0
            while time.monotonic() < deadline:
                try:
                    async with http.get(base + "/health/live") as r:
                        await r.read()
                except aiohttp.ClientConnectionError:
                    print(f"{base}: stopped")
                    return
                await asyncio.sleep(0.5)
            raise CallscopeError(f"{base} still answers {body['drainTimeoutS']:g} s + 30 s later")

    try:
        asyncio.run(go())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise CallscopeError(
            f"cannot reach {base} ({exc or type(exc).__name__}): is the server running there? "
            "(--url)"
        ) from exc
    return 0


def _admin_login(credentials: Path) -> tuple[Any, dict[str, str]]:
    """The password grant of the account admin in ``credentials`` (the demo account's file
    a server's first start writes): its app's client credentials and the form."""
    import aiohttp

    try:
        creds = json.loads(Path(credentials).read_text())
        client = aiohttp.BasicAuth(creds["clientId"], creds["clientSecret"])
        form = {"grant_type": "password", "username": creds["username"]}
        form["password"] = creds["password"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CallscopeError(
            f"--credentials {credentials}: no admin login there ({exc}); pass an admin's "
            "access token with --token or $CALLSCOPE_ADMIN_TOKEN"
        ) from exc
    return client, form


def _cmd_settings(args: argparse.Namespace) -> int:
    if args.markdown:
        print(settings_table())
        return 0
    settings = load_settings(args)
    for name in settings.__dataclass_fields__:
        value = getattr(settings, name)
        if name.endswith(("_key", "_secret", "_token", "_password")) and value:
            value = "(set, not shown)"  # secrets are never printed
        elif name.endswith("_url") and value:
            value = redacted_url(value)  # nor the password inside a URL
        print(f"{name} = {value}")
    return 0


def add_serve(sub: Subcommands) -> None:
    """``serve``: run the server."""
    p = sub.add_parser("serve", help="run the server", description="Run the callscope server.")
    add_settings_arguments(p)
    p.set_defaults(func=_cmd_serve)


def add_drain(sub: Subcommands) -> None:
    """``drain``: ask a running server to drain and stop."""
    p = sub.add_parser(
        "drain",
        help="ask a running server to drain and stop",
        description="Ask a running server to drain, as SIGTERM does: it refuses new streams "
        "(503 with Retry-After, gRPC UNAVAILABLE), fails /health/ready, gives live calls "
        "drain_timeout_s to end on their own, ends the rest (interrupted) and exits. The "
        "request (POST /admin/drain) needs an account admin's access token: --token, "
        "$CALLSCOPE_ADMIN_TOKEN, or the admin login in --credentials.",
    )
    p.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the server (default http://127.0.0.1:8080)"
    )
    p.add_argument("--token", help="an account admin's access token")
    p.add_argument(
        "--credentials",
        type=Path,
        default=Path("callscope-data") / "demo-credentials.json",
        metavar="FILE",
        help="JSON with clientId, clientSecret, username and password of an admin, used to "
        "log in when no token is given (default: callscope-data/demo-credentials.json)",
    )
    p.add_argument(
        "--wait", action="store_true", help="return once the server has stopped answering"
    )
    p.set_defaults(func=_cmd_drain)


def add_settings(sub: Subcommands) -> None:
    """``settings``: show the effective settings."""
    p = sub.add_parser("settings", help="show the effective settings")
    p.add_argument("--markdown", action="store_true", help="print the README settings table")
    add_settings_arguments(p)
    p.set_defaults(func=_cmd_settings)
