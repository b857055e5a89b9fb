"""``callscope simulate``: stream simulated calls to a server (also the options ``demo`` takes)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from callscope.cli.common import Subcommands, setup_logging
from callscope.errors import SimulatorError

__all__ = ["add_sim_arguments", "add_simulate", "sim_options"]


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


def sim_options(args: argparse.Namespace, url: str, data_dir: Path) -> Any:
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

    setup_logging("WARNING")
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
    opts = sim_options(args, url, Path("callscope-data"))
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


def add_sim_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the simulated calls, shared by ``simulate`` and ``demo``."""
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


def add_simulate(sub: Subcommands) -> None:
    """``simulate``: stream simulated calls to a server."""
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
    add_sim_arguments(p)
    p.set_defaults(func=_cmd_simulate)
