"""``callscope demo``: serve, and stream the bundled demo call into the server."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from callscope import __version__
from callscope.cli.common import Subcommands, setup_logging
from callscope.cli.simulate import add_sim_arguments, sim_options
from callscope.config import ENV_PREFIX, Settings, add_settings_arguments

if TYPE_CHECKING:
    from callscope.store.directory import DirectoryRepository

__all__ = ["add_demo"]


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


def _cmd_demo(args: argparse.Namespace) -> int:
    from aiohttp import web

    from callscope.app import COMPONENTS, build_app
    from callscope.lifecycle import drain
    from callscope.server import AccessLogger, preflight
    from callscope.sim.runner import run_simulation, summary_line

    settings = _demo_settings(args)
    setup_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)

    async def go() -> int:
        await preflight(settings)
        app = build_app(settings)
        runner = web.AppRunner(app, access_log_class=AccessLogger)
        try:
            # inside the try: a start-up that fails half-way (a port in use) stops what started
            await runner.setup()
            site = web.TCPSite(runner, settings.host, settings.port)
            await site.start()
            base = f"http://{settings.host}:{settings.port}"
            where = settings.data_dir.resolve()
            print(f"callscope {__version__} serving on {base} (data in {where})")
            await _demo_team(app[COMPONENTS].directory)
            # RingCX streams over gRPC today: the demo does too when its listener is on
            if args.transport is None:
                args.transport = "grpc" if settings.grpc_port else "websocket"
            url = f"ws://{settings.host}:{settings.port}/ringcx/stream"
            if args.transport == "grpc":
                scheme = "grpcs" if settings.tls_cert else "grpc"
                url = f"{scheme}://{settings.grpc_bind_host}:{settings.grpc_port}"
            opts = sim_options(args, url, settings.data_dir)
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

    from callscope.server import new_event_loop

    # a Runner, not a bare loop: whatever a failed start-up left running is cancelled on close
    try:
        factory = functools.partial(new_event_loop, settings.event_loop)
        with asyncio.Runner(loop_factory=factory) as loop_runner:
            return loop_runner.run(go())
    except KeyboardInterrupt:
        return 0


async def _demo_team(directory: DirectoryRepository) -> None:
    """The demo account's supervisor (101) monitors its three agents, once: the dashboard
    then shows their calls. A server's first start makes the same group; an account whose
    admin has set up groups of its own is left as it is."""
    from callscope.seed import ensure_demo_team

    groups, _ = await directory.list_groups("70000001")
    if groups:
        return
    exts, _ = await directory.list_extensions("70000001")
    sup = next((e.id for e in exts if e.extension_number == "101"), None)
    agents = [e.id for e in exts if e.ringcx_agent_id]
    if sup is not None and agents:
        await ensure_demo_team(directory, "70000001", sup, agents)


def add_demo(sub: Subcommands) -> None:
    """``demo``: serve and stream the bundled demo call into it."""
    p = sub.add_parser(
        "demo",
        help="serve and stream the bundled demo call into it",
        description="Start the server on the configured address, stream the bundled scripted "
        "call into it (default 10x real time, light faults), and print what was stored.",
    )
    add_settings_arguments(p)
    add_sim_arguments(p)
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
