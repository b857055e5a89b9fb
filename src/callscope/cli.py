"""The ``callscope`` command: serve, drain, simulate, demo, db, admin, transcribe, settings."""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callscope import __version__
from callscope.config import ENV_PREFIX, Settings, add_settings_arguments, settings_table
from callscope.errors import CallscopeError, SimulatorError
from callscope.logsafe import redacted_url
from callscope.store.files import private_dir

if TYPE_CHECKING:
    from callscope.store.directory import DirectoryRepository

__all__ = ["main"]

DESCRIPTION = """\
callscope: self-hosted real-time call supervision and conversation intelligence.
Receives RingCX call streams, records each call as a stereo WAV (left = agent,
right = caller side) and serves REST, metrics and health on one port."""


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.access").setLevel(
        logging.INFO if level.upper() == "DEBUG" else logging.WARNING
    )


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_sources(args=args)


def _demo_settings(args: argparse.Namespace) -> Settings:
    """The demo's settings: WebHook targets on loopback and private addresses are allowed
    (RingCentral's samples subscribe ``http://localhost`` receivers), and the RingCX gRPC
    listener is on at ``port + 1`` (plaintext: the demo listens on loopback), unless a flag or
    the environment says otherwise."""

    def given(name: str) -> bool:
        return getattr(args, name, None) is not None or ENV_PREFIX + name.upper() in os.environ

    overrides: dict[str, Any] = {}
    if not given("events_webhook_allow_private"):
        overrides["events_webhook_allow_private"] = True
    if not given("grpc_port"):
        base = Settings.from_sources(args=args)
        if base.loopback_only or base.tls_cert:
            overrides["grpc_port"] = base.port + 1
    return Settings.from_sources(args=args, **overrides)


def _cmd_serve(args: argparse.Namespace) -> int:
    from callscope.app import preflight, run

    settings = _settings(args)
    _setup_logging(settings.log_level)
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


def _stream_secret(args: argparse.Namespace, data_dir: Path) -> str | None:
    """The secret simulated streams present: --secret, else $CALLSCOPE_STREAMING_SECRET,
    else the streaming secret in --credentials (default: the demo account's file in the data
    directory, when there is one)."""
    if args.secret:
        return str(args.secret)
    if os.environ.get("CALLSCOPE_STREAMING_SECRET"):
        return os.environ["CALLSCOPE_STREAMING_SECRET"]
    path = args.credentials or data_dir / "demo-credentials.json"
    try:
        creds = json.loads(Path(path).read_text())
    except FileNotFoundError:
        if args.credentials:
            raise SimulatorError(f"--credentials {path}: no such file") from None
        return None
    except (OSError, ValueError) as exc:
        raise SimulatorError(f"--credentials {path}: cannot be read ({exc})") from exc
    secret = creds.get("streaming", {}).get("secret") if isinstance(creds, dict) else None
    if not isinstance(secret, str):
        raise SimulatorError(f"--credentials {path}: holds no streaming.secret")
    return secret


def _sim_options(args: argparse.Namespace, url: str, data_dir: Path) -> Any:
    from callscope.sim.plan import Faults
    from callscope.sim.runner import SimOptions

    return SimOptions(
        url=url,
        calls=args.calls,
        sources=tuple(args.source or ()),
        speed=args.speed,
        faults=Faults(
            reorder=args.reorder, duplicate=args.duplicate, drop=args.drop, malformed=args.malformed
        ),
        vanish_after_s=args.vanish,
        secret=_stream_secret(args, data_dir),
        seed=args.seed,
        ramp_s=args.ramp,
        max_frames=args.max_frames,
        product_type=args.product_type,
        product_id=args.product_id,
        subaccount_id=args.subaccount_id,
        agent_ids=tuple(args.agent_id or (5501, 5502, 5503)),
        protocol=getattr(args, "protocol", "ringcx"),
        transfer_at_s=getattr(args, "transfer_at", None),
        transfer_to=getattr(args, "transfer_to", None),
        transport=args.transport,
        hold_at_s=args.hold_at,
        hold_s=args.hold_for,
        bot_s=args.bot,
        ca_file=str(args.ca_file) if args.ca_file else None,
    )


def _report(results: list[Any], path: Path | None) -> None:
    if path is not None:
        path.write_text(json.dumps([r.as_dict() for r in results], indent=1))


def _cmd_simulate(args: argparse.Namespace) -> int:
    from callscope.sim.runner import run_simulation, summary_line

    _setup_logging("WARNING")
    if args.transport is None:
        args.transport = "websocket"
    url = args.url or (
        "grpc://127.0.0.1:8081"
        if args.transport == "grpc"
        else "ws://127.0.0.1:8080/twilio/stream"
        if args.protocol == "twilio"
        else "ws://127.0.0.1:8080/ringcx/stream"
    )
    if args.heard_dir and args.protocol != "twilio":
        raise SimulatorError("--heard-dir needs --protocol twilio: a RingCX stream is one-way")
    opts = _sim_options(args, url, Path("callscope-data"))
    t0 = time.monotonic()
    results = asyncio.run(
        run_simulation(opts, show_progress=not args.quiet and sys.stderr.isatty())
    )
    _report(results, args.report)
    if args.heard_dir:
        for r in results:
            if r.heard is not None:
                for path in r.heard.write(args.heard_dir, r.call_id):
                    print(f"wrote {path}")
    for r in results:
        if r.status not in ("completed", "vanished"):
            print(f"call {r.call_id}: {r.status}: {r.detail}", file=sys.stderr)
    print(summary_line(results, time.monotonic() - t0))
    bad = [r for r in results if r.status in ("failed", "refused")]
    return 1 if bad else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from aiohttp import web

    from callscope.app import COMPONENTS, AccessLogger, build_app, preflight
    from callscope.lifecycle import drain
    from callscope.sim.runner import run_simulation, summary_line

    settings = _demo_settings(args)
    _setup_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)

    async def go() -> int:
        await preflight(settings)
        app = build_app(settings)
        runner = web.AppRunner(app, access_log_class=AccessLogger)
        await runner.setup()
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        base = f"http://{settings.host}:{settings.port}"
        print(f"callscope {__version__} serving on {base} (data in {settings.data_dir.resolve()})")
        await _demo_team(app[COMPONENTS].directory)
        try:
            # RingCX streams over gRPC today: the demo does too when its listener is on
            if args.transport is None:
                args.transport = "grpc" if settings.grpc_port else "websocket"
            url = f"ws://{settings.host}:{settings.port}/ringcx/stream"
            if args.transport == "grpc":
                scheme = "grpcs" if settings.tls_cert else "grpc"
                url = f"{scheme}://{settings.grpc_bind_host}:{settings.grpc_port}"
            opts = _sim_options(args, url, settings.data_dir)
            print(
                f"streaming {opts.calls} simulated call(s) over "
                f"{'gRPC' if opts.transport == 'grpc' else 'WebSocket'} at {opts.speed:g}x real "
                "time with light network faults..."
            )
            t0 = time.monotonic()
            results = await run_simulation(opts, show_progress=sys.stderr.isatty())
            print(summary_line(results, time.monotonic() - t0))
            components = app[COMPONENTS]
            await components.ingest.settle()
            if components.transcripts is not None:
                print("waiting for the last finals of the transcripts ...")
                await components.transcripts.settle(120)
                await components.ingest.rows.flush()
            calls = components.calls
            rows, total = await calls.list(limit=opts.calls)
            for row in rows:
                print(
                    f"  call {row.id}: {row.status}, {(row.duration_ms or 0) / 1000:.1f} s, "
                    f"missing {row.missing_frames}, late {row.late_frames}, "
                    f"duplicate {row.duplicate_frames}, malformed {row.malformed_messages}"
                )
                print(f"    recording:  {row.recording_path}")
                print(f"    metadata:   {base}/calls/{row.id}")
                print(f"    transcript: {base}/calls/{row.id}/transcript ({row.transcript_status})")
                for u in (await calls.utterances(row.id))[: args.show_utterances]:
                    print(f"      {u.start_ms / 1000:6.1f}s {u.speaker:>8}: {u.text}")
            print(f"{total} call(s) stored in {settings.data_dir.resolve()}")
            creds = settings.data_dir / "demo-credentials.json"
            if creds.exists():
                login = json.loads(creds.read_text())
                print(f"log in to the REST API with the demo account in {creds.resolve()}")
                print(
                    f"dashboard: {base}/ (sign in as {login['username']} with the password in "
                    "that file; --keep-serving keeps it up)"
                )
            if args.keep_serving:
                print("serving until Ctrl-C or `callscope drain` ...")
                await components.lifecycle.drain_requested.wait()
                await drain(components.lifecycle, components.ingest, settings.drain_timeout_s)
            return 0 if all(r.status == "completed" for r in results) else 1
        finally:
            await runner.cleanup()

    from callscope.app import new_event_loop

    loop = new_event_loop(settings.event_loop)
    try:
        return loop.run_until_complete(go())
    except KeyboardInterrupt:
        return 0
    finally:
        loop.close()


async def _demo_team(directory: DirectoryRepository) -> None:
    """The demo account's supervisor (101) monitors its three agents, once: the dashboard
    then shows their calls. A server's first start makes the same group; an account whose
    admin has set up groups of its own is left as it is."""
    from callscope.app import ensure_demo_team

    groups, _ = await directory.list_groups("70000001")
    if groups:
        return
    exts, _ = await directory.list_extensions("70000001")
    sup = next((e.id for e in exts if e.extension_number == "101"), None)
    agents = [e.id for e in exts if e.ringcx_agent_id]
    if sup is not None and agents:
        await ensure_demo_team(directory, "70000001", sup, agents)


def _cmd_db(args: argparse.Namespace) -> int:
    from callscope.store.db import create_engine, upgrade

    settings = _settings(args)
    _setup_logging(settings.log_level)

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


def _cmd_admin(args: argparse.Namespace) -> int:
    from callscope.identity.service import IdentityError, IdentityService
    from callscope.store.db import create_engine, sessionmaker, upgrade

    settings = _settings(args)
    _setup_logging("WARNING")

    async def go() -> dict[str, Any]:
        private_dir(settings.data_dir)
        engine = create_engine(settings.effective_database_url)
        identity = IdentityService(sessionmaker(engine))
        try:
            await upgrade(engine)
            what = args.admin_command
            if what == "account":
                acct = await identity.create_account(args.id, args.name)
                return {"accountId": acct.id, "name": acct.name}
            if what == "extension" and (args.disable or args.enable):
                ext_id = args.disable or args.enable
                status = "Disabled" if args.disable else "Enabled"
                await identity.set_extension_status(ext_id, status)
                return {"extensionId": str(ext_id), "status": status}
            if what == "extension":
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
                ext = await identity.create_extension(
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
            if what == "app":
                app, secret = await identity.create_app(args.account, args.name)
                return {"clientId": app.client_id, "clientSecret": secret}
            if what == "jwt" and args.revoke:
                await identity.revoke_jwt(args.revoke)
                return {"credentialId": args.revoke, "revoked": True}
            if what == "jwt":
                if not args.account or args.extension is None:
                    raise CallscopeError("admin jwt needs --account and --extension (or --revoke)")
                if not 1 <= args.expires_in_days <= 3650:
                    raise CallscopeError(
                        f"--expires-in-days {args.expires_in_days}: a JWT credential lasts "
                        "1-3650 days"
                    )
                jwt = await identity.create_jwt(
                    args.account, args.extension, expires_in_s=args.expires_in_days * 86_400
                )
                return {
                    "jwt": jwt,
                    "credentialId": _jwt_id(jwt),
                    "expiresInDays": args.expires_in_days,
                }
            if what == "device":
                dev = await identity.create_device(
                    args.account, args.extension, type=args.type, name=args.name or ""
                )
                out: dict[str, Any] = {
                    "deviceId": str(dev.id),
                    "type": dev.type,
                    "status": dev.status,
                }
                if args.sip:
                    from callscope.sip.accounts import SipAccounts

                    user, password = await SipAccounts(sessionmaker(engine)).create(
                        dev, settings.sip_realm
                    )
                    # shown once: only its digest HA1 is kept
                    out["sip"] = {
                        "username": user,
                        "password": password,
                        "realm": settings.sip_realm,
                    }
                return out
            if what == "client-link":
                from callscope.api.clientlinks import LinkError, issue_link

                if await identity.get_account(args.account) is None:
                    raise CallscopeError(f"account {args.account} does not exist")
                from callscope.store.repo import CallRepository

                # bound to the newest such call, or to the first to start from now on
                call = await CallRepository(sessionmaker(engine)).by_ringcx_call_id(
                    args.account, args.call_id
                )
                try:
                    link, path = issue_link(
                        await identity.signing_key(),
                        args.account,
                        args.call_id,
                        args.expires_in,
                        row=call.id if call is not None else "",
                    )
                except LinkError as exc:
                    raise CallscopeError(f"--expires-in: {exc}") from exc
                return {"uri": args.base_url.rstrip("/") + path, "expires": link.expires}
            if what == "password":
                await identity.set_password(args.extension, args.password)
                return {"extensionId": str(args.extension), "password": "set"}
            raise AssertionError(what)
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


def _cmd_transcribe(args: argparse.Namespace) -> int:
    from callscope.transcription.engines import load_engine
    from callscope.transcription.transcript import transcribe_file

    _setup_logging("WARNING")
    engine = load_engine(args.engine, args.model_dir, threads=args.threads)
    show = sys.stderr.isatty() and not args.quiet
    if show:
        from rich.progress import Progress as RichProgress

        with RichProgress(transient=True) as bar:
            task = bar.add_task(f"transcribing {args.file.name}", total=1.0)
            utterances = transcribe_file(
                args.file, engine, progress=lambda d, t: bar.update(task, completed=d / max(t, 1))
            )
    else:
        utterances = transcribe_file(args.file, engine)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "file": str(args.file),
                    "engine": engine.name,
                    "utterances": [u.as_dict() for u in utterances],
                },
                indent=1,
            )
        )
    else:
        for u in utterances:
            print(f"[{u.start_ms / 1000:7.2f} – {u.end_ms / 1000:7.2f}] {u.speaker}: {u.text}")
    return 0


def _cmd_insights(args: argparse.Namespace) -> int:
    from callscope.insights.embeddings import MiniLM
    from callscope.insights.textpath import analyze_text, load_file

    _setup_logging("WARNING")
    utterances = load_file(args.file, engine=args.engine)
    embed = None if args.no_embeddings else MiniLM()
    document = analyze_text(utterances, source=args.file.name, embed=embed)
    print(json.dumps(document, indent=1, ensure_ascii=False))
    return 0


def _cmd_settings(args: argparse.Namespace) -> int:
    if args.markdown:
        print(settings_table())
        return 0
    settings = _settings(args)
    for name in settings.__dataclass_fields__:
        value = getattr(settings, name)
        if name.endswith(("_key", "_secret", "_token", "_password")) and value:
            value = "(set, not shown)"  # secrets are never printed
        elif name.endswith("_url") and value:
            value = redacted_url(value)  # nor the password inside a URL
        print(f"{name} = {value}")
    return 0


def _add_sim_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("simulated calls")
    g.add_argument("--calls", type=int, default=1, help="concurrent calls (default 1)")
    g.add_argument(
        "--source",
        type=Path,
        action="append",
        help="stereo WAV (left agent, right caller), mono WAV or scripted-call JSON; repeat to "
        "mix (default: the bundled 77 s demo call)",
    )
    g.add_argument("--speed", type=float, default=1.0, help="pace, 1 = real time (default 1)")
    g.add_argument("--reorder", type=float, default=0.0, help="rate of frames sent 1-3 ticks late")
    g.add_argument("--duplicate", type=float, default=0.0, help="rate of frames sent twice")
    g.add_argument("--drop", type=float, default=0.0, help="rate of frames never sent")
    g.add_argument("--malformed", type=float, default=0.0, help="rate of extra broken messages")
    g.add_argument(
        "--vanish",
        type=float,
        metavar="SECONDS",
        help="cut the TCP connection after SECONDS, no Stop",
    )
    g.add_argument(
        "--secret",
        help="streaming profile secret, sent as X-Streaming-Secret (default: "
        "$CALLSCOPE_STREAMING_SECRET, else streaming.secret of --credentials)",
    )
    g.add_argument(
        "--credentials",
        type=Path,
        metavar="FILE",
        help="JSON file with the secret under streaming.secret (default: "
        "callscope-data/demo-credentials.json, which a server's first start writes)",
    )
    g.add_argument("--seed", type=int, default=1, help="random seed for faults (default 1)")
    g.add_argument("--ramp", type=float, default=0.0, metavar="SECONDS", help="spread call starts")
    g.add_argument("--max-frames", type=int, help="stop each call after this many 20 ms frames")
    g.add_argument("--product-type", default="Queue", help="Queue | Campaign | Manual")
    g.add_argument("--product-id", type=int, default=4401)
    g.add_argument("--subaccount-id", default="88800012")
    g.add_argument(
        "--agent-id",
        type=int,
        action="append",
        help="RingCX agent id of the calls, repeat to rotate (default 5501, 5502, 5503)",
    )
    g.add_argument("--report", type=Path, help="write per-call results (incl. dropped ids) as JSON")
    g.add_argument(
        "--transport",
        choices=("websocket", "grpc"),
        help="websocket or grpc: RingCX gRPC dialogs (100 ms PCMU chunks per participant "
        "segment) to --url grpc://host:port or grpcs://host:port (simulate: default "
        "websocket; demo: grpc when its gRPC listener is on, as it is by default)",
    )
    g.add_argument(
        "--hold-at",
        type=float,
        metavar="SECONDS",
        help="grpc: put the caller on hold this many seconds in (segment_info hold/unhold)",
    )
    g.add_argument(
        "--hold-for", type=float, default=3.0, metavar="SECONDS", help="grpc: hold length (3)"
    )
    g.add_argument(
        "--bot",
        type=float,
        metavar="SECONDS",
        help="grpc: a BOT participant speaks this many seconds before the agent joins",
    )
    g.add_argument("--ca-file", type=Path, help="grpcs: CA certificate (PEM) of the server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callscope", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"callscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the server", description="Run the callscope server.")
    add_settings_arguments(p)
    p.set_defaults(func=_cmd_serve)

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

    p = sub.add_parser(
        "simulate",
        help="stream simulated calls to a server (RingCX or two-way Twilio-style)",
        description="Stream calls to a callscope (or any RingCX-compatible) server, as RingCX "
        "would: Connected, Start, Media for both perspectives, Stop per perspective. With "
        "--protocol twilio, as a two-way Twilio Media Streams call: connected, start (call "
        "details in customParameters), media on tracks outbound (agent) and inbound "
        "(customer), stop; what the server sends back is recorded per party (--heard-dir) and "
        "marks are answered. A 5xx on the upgrade is retried up to 3 times; a 4xx is final. "
        "Exit status 1 if a call failed.",
    )
    p.add_argument(
        "--url",
        help="stream endpoint (ws:// or wss://; default ws://127.0.0.1:8080/ringcx/stream, "
        "or /twilio/stream with --protocol twilio; with --transport grpc, grpc://host:port "
        "or grpcs://host:port, default grpc://127.0.0.1:8081)",
    )
    p.add_argument(
        "--protocol",
        choices=("ringcx", "twilio"),
        default="ringcx",
        help="ringcx: one-way RingCX call streaming (default); twilio: two-way stream",
    )
    p.add_argument(
        "--transfer-at",
        type=float,
        metavar="SECONDS",
        help="twilio or grpc: the platform transfers each call to another agent after SECONDS",
    )
    p.add_argument(
        "--transfer-to",
        type=int,
        metavar="AGENT_ID",
        help="RingCX agent id the call is transferred to (default: the next of 5501-5503)",
    )
    p.add_argument(
        "--heard-dir",
        type=Path,
        metavar="DIR",
        help="twilio: write what each party heard from the server as "
        "<call>-agent-heard.wav and <call>-customer-heard.wav",
    )
    p.add_argument("--quiet", action="store_true", help="no progress display")
    _add_sim_arguments(p)
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser(
        "demo",
        help="serve and stream the bundled demo call into it",
        description="Start the server on the configured address, stream the bundled scripted "
        "call into it (default 10x real time, light faults), and print what was stored.",
    )
    add_settings_arguments(p)
    _add_sim_arguments(p)
    p.set_defaults(speed=10.0, reorder=0.01, duplicate=0.01, drop=0.005, malformed=0.002)
    p.add_argument("--keep-serving", action="store_true", help="keep serving after the demo")
    p.add_argument(
        "--show-utterances",
        type=int,
        default=12,
        metavar="N",
        help="print the first N transcript lines of each call (default 12)",
    )
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("db", help="database maintenance")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="apply migrations (serve does this at start)")
    up.add_argument("revision", nargs="?", default="head")
    add_settings_arguments(up)
    up.set_defaults(func=_cmd_db)

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

    p = sub.add_parser(
        "transcribe",
        help="transcribe a call recording offline",
        description="Transcribe an 8 kHz WAV offline (stereo: agent left, customer right; mono: "
        "one speaker) with the same voice activity segmentation and engine live calls use.",
    )
    p.add_argument("file", type=Path, help="8 kHz WAV, 16-bit PCM or μ-law")
    p.add_argument("--format", choices=("json", "text"), default="json")
    p.add_argument(
        "--engine",
        default="whisper-tiny",
        help="whisper-tiny (default, model in a package), whisper-base, vosk or sherpa-onnx",
    )
    p.add_argument(
        "--model-dir",
        type=Path,
        help="model folder (default: the packaged model, or CALLSCOPE_ASR_MODEL_DIR)",
    )
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the engine (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_transcribe)

    p = sub.add_parser(
        "insights",
        help="print the insights of a transcript or recording",
        description="Print the RingSense insights document (summary, highlights, next steps, "
        "metrics) of a transcript: JSON in the REST transcript shape (GET /calls/{id}/"
        "transcript), WebVTT (?format=vtt), or an 8 kHz WAV, transcribed first.",
    )
    p.add_argument("file", type=Path, help="transcript .json or .vtt, or an 8 kHz .wav")
    p.add_argument("--engine", default="whisper-tiny", help="recogniser for a WAV (default)")
    p.add_argument(
        "--no-embeddings",
        action="store_true",
        help="judge next steps on frame features alone (no sentence model)",
    )
    p.set_defaults(func=_cmd_insights)

    p = sub.add_parser("settings", help="show the effective settings")
    p.add_argument("--markdown", action="store_true", help="print the README settings table")
    add_settings_arguments(p)
    p.set_defaults(func=_cmd_settings)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CallscopeError as exc:
        print(f"callscope: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"callscope: error: the address is in use ({exc.strerror}); another server is "
                "running there: stop it or pick another --port / CALLSCOPE_PORT",
                file=sys.stderr,
            )
            return 2
        raise
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
