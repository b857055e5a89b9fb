"""``callscope db`` and ``admin``: migrate the database, manage identities in it directly."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from callscope.cli.common import Subcommands, load_settings, setup_logging
from callscope.config import add_settings_arguments
from callscope.errors import CallscopeError
from callscope.logsafe import redacted_url
from callscope.store.files import private_dir

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from callscope.config import Settings
    from callscope.identity.service import IdentityService

__all__ = ["add_admin", "add_db"]


def _cmd_db(args: argparse.Namespace) -> int:
    from callscope.store.db import create_engine, upgrade

    settings = load_settings(args)
    setup_logging(settings.log_level)

    async def go() -> None:
        private_dir(settings.data_dir)
        engine = create_engine(settings.effective_database_url)
        try:
            await upgrade(engine, args.revision)
        finally:
            await engine.dispose()

    asyncio.run(go())
    print(f"database at revision {args.revision}: {redacted_url(settings.effective_database_url)}")
    return 0


@dataclass(frozen=True, slots=True)
class _Admin:
    """What an ``admin`` action works with: its flags, the settings and the database."""

    args: argparse.Namespace
    settings: Settings
    engine: AsyncEngine
    identity: IdentityService


async def _account(a: _Admin) -> dict[str, Any]:
    acct = await a.identity.create_account(a.args.id, a.args.name)
    return {"accountId": acct.id, "name": acct.name}


async def _extension(a: _Admin) -> dict[str, Any]:
    args = a.args
    if args.disable or args.enable:
        ext_id = args.disable or args.enable
        status = "Disabled" if args.disable else "Enabled"
        await a.identity.set_extension_status(ext_id, status)
        return {"extensionId": str(ext_id), "status": status}
    missing = [
        flag
        for flag, value in (
            ("--account", args.account),
            ("--number", args.number),
            ("--first-name", args.first_name),
            ("--last-name", args.last_name),
        )
        if not value
    ]
    if missing:
        raise CallscopeError(
            f"admin extension needs {', '.join(missing)} to create one (or "
            "--disable/--enable EXTENSION_ID)"
        )
    ext = await a.identity.create_extension(
        args.account,
        number=args.number,
        first_name=args.first_name,
        last_name=args.last_name,
        email=args.email,
        type=args.type,
        admin=args.admin,
        ringcx_agent_id=args.agent_id,
        password=args.password,
        insights_licence=args.insights_licence,
    )
    return {"extensionId": str(ext.id), "extensionNumber": ext.extension_number}


async def _app(a: _Admin) -> dict[str, Any]:
    app, secret = await a.identity.create_app(a.args.account, a.args.name)
    return {"clientId": app.client_id, "clientSecret": secret}


async def _jwt(a: _Admin) -> dict[str, Any]:
    args = a.args
    if args.revoke:
        await a.identity.revoke_jwt(args.revoke)
        return {"credentialId": args.revoke, "revoked": True}
    if not args.account or args.extension is None:
        raise CallscopeError("admin jwt needs --account and --extension (or --revoke)")
    if not 1 <= args.expires_in_days <= 3650:
        raise CallscopeError(
            f"--expires-in-days {args.expires_in_days}: a JWT credential lasts 1-3650 days"
        )
    jwt = await a.identity.create_jwt(
        args.account, args.extension, expires_in_s=args.expires_in_days * 86_400
    )
    return {"jwt": jwt, "credentialId": _jwt_id(jwt), "expiresInDays": args.expires_in_days}


async def _device(a: _Admin) -> dict[str, Any]:
    from callscope.store.db import sessionmaker

    args = a.args
    dev = await a.identity.create_device(
        args.account, args.extension, type=args.type, name=args.name or ""
    )
    out: dict[str, Any] = {"deviceId": str(dev.id), "type": dev.type, "status": dev.status}
    if args.sip:
        from callscope.sip.accounts import SipAccounts

        realm = a.settings.sip_realm
        user, password = await SipAccounts(sessionmaker(a.engine)).create(dev, realm)
        # shown once: only its digest HA1 is kept
        out["sip"] = {"username": user, "password": password, "realm": realm}
    return out


async def _client_link(a: _Admin) -> dict[str, Any]:
    from callscope.api.clientlinks import LinkError, issue_link
    from callscope.store.db import sessionmaker
    from callscope.store.repo import CallRepository

    args = a.args
    if await a.identity.get_account(args.account) is None:
        raise CallscopeError(f"account {args.account} does not exist")
    # bound to the newest such call, or to the first to start from now on
    call = await CallRepository(sessionmaker(a.engine)).by_ringcx_call_id(
        args.account, args.call_id
    )
    try:
        link, path = issue_link(
            await a.identity.signing_key(),
            args.account,
            args.call_id,
            args.expires_in,
            row=call.id if call is not None else "",
        )
    except LinkError as exc:
        raise CallscopeError(f"--expires-in: {exc}") from exc
    return {"uri": args.base_url.rstrip("/") + path, "expires": link.expires}


async def _password(a: _Admin) -> dict[str, Any]:
    await a.identity.set_password(a.args.extension, a.args.password)
    return {"extensionId": str(a.args.extension), "password": "set"}


#: ``admin WHAT``: the action that does it, returning what it created (printed as JSON)
_ACTIONS: dict[str, Callable[[_Admin], Awaitable[dict[str, Any]]]] = {
    "account": _account,
    "extension": _extension,
    "app": _app,
    "jwt": _jwt,
    "device": _device,
    "client-link": _client_link,
    "password": _password,
}


def _cmd_admin(args: argparse.Namespace) -> int:
    from callscope.identity.model import IdentityError
    from callscope.identity.service import IdentityService
    from callscope.store.db import create_engine, sessionmaker, upgrade

    settings = load_settings(args)
    setup_logging("WARNING")
    action = _ACTIONS[args.admin_command]

    async def go() -> dict[str, Any]:
        private_dir(settings.data_dir)
        engine = create_engine(settings.effective_database_url)
        identity = IdentityService(sessionmaker(engine))
        try:
            await upgrade(engine)
            return await action(_Admin(args, settings, engine, identity))
        except IdentityError as exc:
            raise CallscopeError(str(exc)) from exc
        finally:
            identity.close()
            await engine.dispose()

    print(json.dumps(asyncio.run(go()), indent=1))
    return 0


def _jwt_id(jwt: str) -> str:
    """The credential id (``jti``) of a JWT callscope issued (its payload, unverified)."""
    import base64

    body = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return str(claims["jti"])


def add_db(sub: Subcommands) -> None:
    """``db upgrade``: apply migrations."""
    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="apply migrations (serve does this at start)")
    up.add_argument("revision", nargs="?", default="head")
    add_settings_arguments(up)
    up.set_defaults(func=_cmd_db)


def add_admin(sub: Subcommands) -> None:
    """``admin``: create accounts, extensions, apps, JWT credentials and devices."""
    p = sub.add_parser(
        "admin",
        help="create accounts, extensions, apps, JWT credentials and devices",
        description="Manage identities directly in the database (works while serve runs). "
        "Each command prints what it created as JSON; secrets are shown once.",
    )
    adm = p.add_subparsers(dest="admin_command", required=True, metavar="WHAT")
    a = adm.add_parser("account", help="create an account (id = the RingCentral account id)")
    a.add_argument("--id", required=True, help="digits; RingCX streams name it as rcAccountId")
    a.add_argument("--name", required=True)
    a = adm.add_parser(
        "extension",
        help="create an extension (user), or disable / enable one",
        description="Create an extension (--account, --number, --first-name, --last-name "
        "required), or --disable one: its tokens stop working, its open sockets close within "
        "a second and its subscriptions are deleted; --enable lets it sign in again.",
    )
    a.add_argument("--account")
    a.add_argument("--number", help="extension number, up to 8 digits")
    a.add_argument("--first-name")
    a.add_argument("--last-name")
    a.add_argument("--email")
    a.add_argument("--type", default="User", help="RingCentral extension type (default User)")
    a.add_argument("--admin", action="store_true", help="account administrator")
    a.add_argument("--agent-id", help="the RingCX agent id this extension answers as")
    a.add_argument("--password", help="enables the password grant")
    a.add_argument(
        "--insights-licence",
        action="store_true",
        help="holds the conversation-insights licence: its calls get insights documents",
    )
    toggle = a.add_mutually_exclusive_group()
    toggle.add_argument("--disable", type=int, metavar="EXTENSION_ID", help="disable it")
    toggle.add_argument("--enable", type=int, metavar="EXTENSION_ID", help="enable it again")
    a = adm.add_parser("app", help="create an OAuth app; prints client id and secret")
    a.add_argument("--account", required=True)
    a.add_argument("--name", required=True)
    a = adm.add_parser(
        "jwt",
        help="issue a JWT credential for the jwt-bearer grant, or revoke one",
        description="Issue a JWT credential (prints it and its credentialId), or --revoke one "
        "by credentialId: the sessions it opened end and their sockets close.",
    )
    a.add_argument("--account")
    a.add_argument("--extension", type=int, help="extension id")
    a.add_argument(
        "--expires-in-days",
        type=int,
        default=365,
        help="days the credential works (1-3650, default 365); then issue a new one",
    )
    a.add_argument("--revoke", metavar="CREDENTIAL_ID", help="revoke this credential")
    a = adm.add_parser("device", help="register a device (e.g. a supervisor softphone)")
    a.add_argument("--account", required=True)
    a.add_argument("--extension", type=int, required=True, help="extension id")
    a.add_argument("--type", default="SoftPhone")
    a.add_argument("--name")
    a.add_argument(
        "--sip",
        action="store_true",
        help="give it a SIP account (username and password, shown once) to register with "
        "callscope's SIP registrar (--sip-port) as a supervisor phone",
    )
    a = adm.add_parser(
        "client-link",
        help="a signed link to one call's live transcript page (for an agent-script iFrame)",
    )
    a.add_argument("--account", required=True)
    a.add_argument("--call-id", required=True, help="the RingCX call id (uii)")
    a.add_argument(
        "--expires-in", type=int, default=3600, help="seconds the link works (60-86400, 1 h)"
    )
    a.add_argument(
        "--base-url", default="http://127.0.0.1:8080", help="the address callscope is reached at"
    )
    a = adm.add_parser("password", help="set an extension's password")
    a.add_argument("--extension", type=int, required=True, help="extension id")
    a.add_argument("--password", required=True)
    for action in adm.choices.values():
        add_settings_arguments(action)
    p.set_defaults(func=_cmd_admin)
