"""Typed settings, from defaults ← ``CALLSCOPE_*`` environment ← command-line flags.

Every field documents itself; ``callscope settings --markdown`` prints the table that the
README carries. Units are in the names (``_s``, ``_frames``, ``_bytes``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from callscope.config_checks import check_settings, is_loopback
from callscope.errors import ConfigError
from callscope.forwarded import TrustedProxies

__all__ = ["ENV_PREFIX", "Settings", "add_settings_arguments", "settings_table"]

ENV_PREFIX = "CALLSCOPE_"


def _opt(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """Server settings. Construct with :meth:`from_sources` to read env and flags."""

    host: str = _opt("127.0.0.1", "Address to listen on (0.0.0.0 for every interface).")
    port: int = _opt(8080, "TCP port for HTTP, REST and WebSocket.")
    behind_tls_proxy: bool = _opt(
        False,
        "Set when a TLS-terminating proxy is in front (deploy/nginx.conf): silences the "
        "start-up warning about serving plain HTTP on a non-loopback host.",
    )
    trusted_proxies: str = _opt(
        "",
        "Comma-separated IPs or CIDRs of proxies whose Forwarded and X-Forwarded-For/-Proto/"
        "-Host/-Port headers are believed (127.0.0.1 with deploy/nginx.conf): answers' URLs "
        "use the public scheme, host and port, and per-address limits count the client. They "
        "must set or clear those headers. Empty: nobody's.",
    )
    data_dir: Path = _opt(Path("callscope-data"), "Directory for recordings and the SQLite file.")
    database_url: str = _opt(
        "", "SQLAlchemy async URL; empty = sqlite+aiosqlite:///<data_dir>/callscope.db."
    )
    log_level: str = _opt("INFO", "DEBUG, INFO, WARNING or ERROR.")
    drain_timeout_s: float = _opt(
        30.0,
        "On SIGTERM, SIGINT or `callscope drain`: new streams are refused (503, gRPC "
        "UNAVAILABLE) and readiness fails while live calls get this long to end on their own; "
        "the rest are then ended as interrupted. 0 = end them at once.",
    )
    ingest_idle_timeout_s: float = _opt(
        10.0, "A stream silent this long without Stop is closed and its call kept."
    )
    ingest_window_frames: int = _opt(
        10, "Jitter window: frames to wait for a missing sequenceId before writing silence."
    )
    ingest_max_skew_frames: int = _opt(
        50, "How far one perspective may run ahead of the other before the gap is concealed."
    )
    ingest_max_gap_frames: int = _opt(
        250,
        "Most silence (20 ms frames) one sequenceId gap is filled with; a larger jump is "
        "believed once two frames agree and then re-anchors the stream.",
    )
    ingest_max_concealed_s: float = _opt(
        600.0,
        "Most silence concealed per call; past it (or past the audio received plus the time "
        "streamed plus 10 s) the stream is closed (1008).",
    )
    ingest_batch_frames: int = _opt(2, "Stereo frames (20 ms each) gathered per disk write.")
    ingest_max_message_bytes: int = _opt(
        1 << 20, "Hard WebSocket message limit; larger closes the stream (1009)."
    )
    ingest_checkpoint_interval_s: float = _opt(
        10.0, "How often live calls' counters are stored (what a crash can lose)."
    )
    ingest_ping_interval_s: float = _opt(
        20.0,
        "WebSocket ping sent on every ingest stream this often, so that proxies do not cut a "
        "one-way stream as idle; an unanswered ping never ends a call (the idle timeout "
        "does). 0 = off.",
    )
    grpc_port: int = _opt(
        0,
        "Port of the RingCX gRPC streaming listener (spec §11.4; RingCX uses 443 or 10443 "
        "over TLS); 0 = off.",
    )
    grpc_host: str = _opt("", "Address of the gRPC listener; empty: the same as host.")
    grpc_max_streams: int = _opt(
        5000, "Concurrent gRPC streams; more are refused with RESOURCE_EXHAUSTED."
    )
    tls_cert: str = _opt(
        "",
        "PEM certificate chain: TLS on the gRPC listener (required unless it is on loopback) "
        "and, with http_tls, on the HTTP listener (https://, wss://).",
    )
    tls_key: str = _opt("", "PEM private key of tls_cert.")
    http_tls: bool = _opt(
        False, "Serve HTTP too (REST, WebSocket streams, the dashboard) over TLS with tls_cert."
    )
    ingest_allow_unauthenticated: bool = _opt(
        False,
        "LAB ONLY: also accept streams that present no streaming profile secret; their calls "
        "go to the account they name (anyone who reaches the port can add calls) and are "
        "never supervised.",
    )
    ingest_default_account: str = _opt(
        "",
        "Account for unauthenticated streams whose rcAccountId names no account (empty: none).",
    )
    ingest_start_deadline_s: float = _opt(
        10.0, "A stream that has not sent its Start this long after connecting is closed."
    )
    ingest_max_connections_per_ip: int = _opt(
        2000, "Open streams allowed from one client address (503 beyond: RingCX retries)."
    )
    ingest_max_unproven_per_ip: int = _opt(
        200,
        "Two-way streams from one address waiting to present their secret at their start "
        "(429 beyond; a secret sent as a header is checked at once).",
    )
    ingest_auth_max_failures: int = _opt(
        20,
        "Refused streams from one address within a minute before it is held back (429) "
        "until they age out of that minute.",
    )
    asr_workers: int = _opt(
        -1, "Transcription worker processes; -1 = one per core but one (1-4), 0 = off."
    )
    asr_engine: str = _opt(
        "whisper-tiny", "Speech engine: whisper-tiny, whisper-base, vosk or sherpa-onnx."
    )
    asr_model_dir: str = _opt(
        "", "Model folder (empty: the packaged whisper tiny.en; required by other engines)."
    )
    asr_threads: int = _opt(1, "CPU threads per transcription worker.")
    asr_partial_interval_ms: int = _opt(
        1000, "How often a phrase in progress gets a partial result; 0 = finals only."
    )
    asr_max_segment_ms: int = _opt(
        15_000, "Longest stretch of speech before a final is cut (monologues)."
    )
    asr_vad_hangover_ms: int = _opt(
        300, "Silence that ends a phrase (shorter: faster finals, more cut sentences)."
    )
    asr_pack: bool = _opt(True, "Pack short phrases of many calls into one whisper decode.")
    asr_send_ms: int = _opt(40, "Audio gathered per call before it goes to its worker.")
    events_retry_initial_s: float = _opt(
        1.0, "First wait before a failed webhook delivery is retried; doubles per failure."
    )
    events_retry_max_s: float = _opt(60.0, "Longest wait between webhook delivery attempts.")
    events_webhook_timeout_s: float = _opt(
        10.0, "A webhook target must answer a notification within this time."
    )
    events_webhook_allow_private: bool = _opt(
        False,
        "Allow WebHook targets on loopback, private and link-local addresses (labs; "
        "RingCentral's samples use http://localhost). This server's own port stays refused.",
    )
    events_webhook_accept_no_reply: bool = _opt(
        False,
        "Count a WebHook notification as delivered when the target reads it and closes the "
        "connection without an HTTP answer (RingCentral's sample receiver does that); off: "
        "such a hang-up is a failure and is retried.",
    )
    events_ws_recovery_s: int = _opt(
        180,
        "WebSocket gateway recoveryTimeout: a session whose socket is gone can be recovered "
        "(&wsc=) this long, then its subscription and recovery buffer are deleted.",
    )
    events_max_failures: int = _opt(
        60,
        "Failed attempts in a row after which a webhook subscription is Blacklisted "
        "(60 at the default waits: 27-55 min of outage).",
    )
    supervision_queue_frames: int = _opt(
        100,
        "Audio frames (20 ms) queued per supervisor device; a device that falls further "
        "behind loses its oldest audio.",
    )
    supervision_heartbeat_s: float = _opt(
        10.0, "Ping interval on web-phone sockets; a device that misses the pong is dropped."
    )
    sip_port: int = _opt(
        0,
        "UDP and TCP port of the SIP registrar for supervisors' desk phones and softphones "
        "(accounts from `callscope admin device --sip`); 0 = off.",
    )
    sip_tls_port: int = _opt(
        0,
        "Port of SIP over TLS (sips; usually 5061) with tls_cert and tls_key, beside sip_port; "
        "0 = off.",
    )
    sip_host: str = _opt(
        "",
        "Address of the SIP and RTP sockets, and the one put in SDP and Contact; empty: the "
        "same as host (must then not be 0.0.0.0).",
    )
    sip_realm: str = _opt(
        "callscope", "Digest realm of SIP accounts; changing it invalidates every SIP password."
    )
    sip_invite_timeout_s: float = _opt(
        32.0,
        "How long a SIP phone may ring (or not answer) before callscope cancels its call and "
        "ends the supervision (RFC 3261 timer B: 32).",
    )
    insights_enabled: bool = _opt(
        True, "Make insights (summary, highlights, next steps, metrics) for every ended call."
    )
    insights_embeddings: bool = _opt(
        True,
        "Feed sentence embeddings (packaged MiniLM, ≈ 60 MB RAM) to the next-steps classifier; "
        "off: frame features alone.",
    )
    insights_llm_url: str = _opt(
        "",
        "OpenAI-compatible endpoint for summaries and next steps (e.g. http://127.0.0.1:8000); "
        "empty: offline analyzers only.",
    )
    insights_llm_model: str = _opt("gpt-4o-mini", "Model name sent to the LLM endpoint.")
    insights_llm_key: str = _opt("", "Bearer key for the LLM endpoint (never logged).")
    insights_llm_deadline_s: float = _opt(
        60.0, "Longest time the LLM may take per call, repair included; then offline stands."
    )
    retention_days: float = _opt(
        365.0, "Insights and recordings older than this are deleted; 0 keeps them for ever."
    )
    retention_sweep_s: float = _opt(3600.0, "How often the retention job runs.")
    insights_transcript_wait_s: float = _opt(
        300.0, "How long an insights job waits for a call's transcript to be final."
    )
    assist_enabled: bool = _opt(
        True, "Raise live alerts and suggestions from each call's transcript as it is made."
    )
    assist_rules: str = _opt(
        "", "Live assist rules file (JSON, see assist_rules.json in the package); empty: packaged."
    )
    redis_url: str = _opt(
        "",
        "Redis (redis://host:6379/0) shared by every node of a cluster: live fan-out, event "
        "and job queues, node heartbeats. Empty: one node. Needs a PostgreSQL database_url.",
    )
    redis_prefix: str = _opt(
        "callscope", "Prefix of every Redis key and channel: nodes with one prefix are one cluster."
    )
    node_id: str = _opt(
        "",
        "This node's name in the cluster; empty: <hostname>-<port>. Keep it stable: a "
        "restarted node recovers the calls it had.",
    )
    advertise_url: str = _opt(
        "",
        "How the other nodes reach this one (http://10.0.0.5:8080); empty: http://<host>:<port>.",
    )
    node_heartbeat_s: float = _opt(1.0, "How often a node tells the cluster it is alive.")
    node_dead_after_s: float = _opt(
        10.0,
        "A node silent this long is dead: its calls are marked interrupted, its queues and "
        "jobs taken over. A node whose own heartbeat fails for half of it fences itself "
        "(ends its calls, refuses new streams until Redis is back).",
    )
    login_max_failures_per_user: int = _opt(
        5,
        "Failed password or JWT logins of one username within login_user_window_s that lock "
        "it (429 with Retry-After; per node, in memory).",
    )
    login_user_window_s: float = _opt(
        300.0, "Sliding window in which a username's failed logins are counted."
    )
    login_lockout_s: float = _opt(
        30.0, "First lockout of a username; each further one doubles, up to login_lockout_max_s."
    )
    login_lockout_max_s: float = _opt(900.0, "Longest lockout of a username.")
    login_max_failures_per_ip: int = _opt(
        20,
        "Failed logins from one client address within login_ip_window_s after which it is held "
        "back until the oldest leaves the window.",
    )
    login_ip_window_s: float = _opt(
        60.0, "Sliding window in which a client address's failed logins are counted."
    )
    login_hash_threads: int = _opt(
        2, "Threads that run password hashing (scrypt, 128 MiB each) off the event loop."
    )
    login_max_queued_checks: int = _opt(
        8, "Password checks that may wait for a hashing thread; more are refused at once (429)."
    )
    event_loop: str = _opt("auto", "auto (uvloop when installed), uvloop or asyncio.")
    gc_freeze: bool = _opt(True, "Freeze start-up objects and raise GC thresholds (lower p99).")

    def __post_init__(self) -> None:
        check_settings(self)  # config_checks: one function per group of settings

    @property
    def loopback_only(self) -> bool:
        """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
        return is_loopback(self.host)

    @property
    def trusted_proxy_networks(self) -> TrustedProxies:
        """``trusted_proxies``, parsed."""
        return TrustedProxies.parse(self.trusted_proxies)

    @property
    def grpc_bind_host(self) -> str:
        return self.grpc_host or self.host

    @property
    def sip_bind_host(self) -> str:
        return self.sip_host or self.host

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'callscope.db').resolve()}"

    @property
    def effective_asr_workers(self) -> int:
        if self.asr_workers >= 0:
            return self.asr_workers
        return max(1, min(4, (os.cpu_count() or 2) - 1))

    @property
    def effective_node_id(self) -> str:
        if self.node_id:
            return self.node_id
        host = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:50] or "node"
        return f"{host}-{self.port}"

    @property
    def effective_advertise_url(self) -> str:
        if self.advertise_url:
            return self.advertise_url.rstrip("/")
        wildcard = self.host in ("0.0.0.0", "::", "")  # noqa: S104 - comparing, not binding
        host = "127.0.0.1" if wildcard else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @classmethod
    def from_sources(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        args: argparse.Namespace | None = None,
        **overrides: Any,
    ) -> Settings:
        """Defaults, then ``CALLSCOPE_<NAME>`` variables, then flags, then ``overrides``.

        Raises:
            ConfigError: a value does not parse or is out of range; the message names it.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            key = ENV_PREFIX + f.name.upper()
            if key in env:
                values[f.name] = _parse(f, env[key], key)
            if args is not None and getattr(args, f.name, None) is not None:
                values[f.name] = getattr(args, f.name)
        values.update(overrides)
        return cls(**values)


def _field_type(f: dataclasses.Field[Any]) -> type:
    return {"str": str, "int": int, "float": float, "bool": bool, "Path": Path}[str(f.type)]


def _parse(f: dataclasses.Field[Any], raw: str, source: str) -> Any:
    kind = _field_type(f)
    if kind is bool:
        low = raw.strip().lower()
        if low in {"1", "true", "yes", "on"}:
            return True
        if low in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{source}={raw!r}: use true or false")
    try:
        return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{source}={raw!r}: expected {kind.__name__}") from exc


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--<name>`` flags for every setting (defaults stay in :class:`Settings`)."""
    for f in fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        env = ENV_PREFIX + f.name.upper()
        kind = _field_type(f)
        text = f"{f.metadata['help']} [env {env}, default {f.default}]"
        if kind is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=text)


def settings_table() -> str:
    """The Markdown configuration table for the README."""
    rows = ["| flag | environment variable | default | meaning |", "|---|---|---|---|"]
    for f in fields(Settings):
        default = f.default if f.default != "" else "(empty)"
        rows.append(
            f"| `--{f.name.replace('_', '-')}` | `{ENV_PREFIX}{f.name.upper()}` | `{default}` "
            f"| {f.metadata['help']} |"
        )
    return "\n".join(rows)
