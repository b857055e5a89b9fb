"""The checks of :class:`~callscope.config.Settings`, one function per group of settings.

Each raises :class:`ConfigError` naming the setting and the values it takes.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

from callscope.errors import ConfigError
from callscope.forwarded import TrustedProxies
from callscope.transcription.engines import ENGINES

if TYPE_CHECKING:
    from callscope.config import Settings

__all__ = ["check_settings", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name (or "" = every interface): assume it is reachable
        return False


def _server(s: Settings) -> None:
    """Listening address, logging and the event loop."""
    if not 0 < s.port < 65536:
        raise ConfigError(f"port {s.port} is out of range: use 1-65535")
    if s.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"log_level {s.log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    if s.event_loop not in {"auto", "uvloop", "asyncio"}:
        raise ConfigError(f"event_loop {s.event_loop!r}: use auto, uvloop or asyncio")


def _ingest_streams(s: Settings) -> None:
    """Ingest streams: timeouts, pings, per-address limits; the drain."""
    if s.ingest_idle_timeout_s <= 0:
        raise ConfigError("ingest_idle_timeout_s must be > 0 (seconds)")
    if s.ingest_checkpoint_interval_s <= 0:
        raise ConfigError("ingest_checkpoint_interval_s must be > 0 (seconds)")
    if s.ingest_ping_interval_s < 0:
        raise ConfigError("ingest_ping_interval_s must be ≥ 0 (seconds; 0 = no pings)")
    if s.drain_timeout_s < 0:
        raise ConfigError("drain_timeout_s must be ≥ 0 (seconds; 0 = no wait)")
    if s.ingest_start_deadline_s <= 0:
        raise ConfigError("ingest_start_deadline_s must be > 0 (seconds)")
    if s.ingest_max_connections_per_ip < 1 or s.ingest_max_unproven_per_ip < 1:
        raise ConfigError(
            "ingest_max_connections_per_ip and ingest_max_unproven_per_ip must be ≥ 1"
        )
    if s.ingest_auth_max_failures < 1:
        raise ConfigError("ingest_auth_max_failures must be ≥ 1")


def _ingest_audio(s: Settings) -> None:
    """Ingest audio: the jitter window, gap concealment, write batches, message size."""
    if s.ingest_window_frames < 1:
        raise ConfigError("ingest_window_frames must be ≥ 1")
    if s.ingest_max_gap_frames < s.ingest_window_frames:
        raise ConfigError("ingest_max_gap_frames must be ≥ ingest_window_frames")
    if s.ingest_max_concealed_s <= 0:
        raise ConfigError("ingest_max_concealed_s must be > 0 (seconds)")
    if not 1 <= s.ingest_batch_frames <= s.ingest_max_skew_frames:
        raise ConfigError("need 1 ≤ ingest_batch_frames ≤ ingest_max_skew_frames")
    if s.ingest_max_message_bytes < 4096:
        raise ConfigError("ingest_max_message_bytes must be ≥ 4096")


def _transcription(s: Settings) -> None:
    """Transcription workers and their voice activity segmentation."""
    if s.asr_engine not in ENGINES:
        raise ConfigError(f"asr_engine {s.asr_engine!r}: use one of {', '.join(ENGINES)}")
    if s.asr_workers < -1:
        raise ConfigError("asr_workers must be -1 (auto), 0 (off) or a count")
    if s.asr_threads < 1:
        raise ConfigError("asr_threads must be ≥ 1")
    if s.asr_partial_interval_ms and s.asr_partial_interval_ms < 200:
        raise ConfigError("asr_partial_interval_ms must be 0 (off) or ≥ 200")
    if not 1000 <= s.asr_max_segment_ms <= 25_000:
        raise ConfigError("asr_max_segment_ms must be between 1000 and 25000")
    if not 100 <= s.asr_vad_hangover_ms <= 2000:
        raise ConfigError("asr_vad_hangover_ms must be between 100 and 2000")
    if not 20 <= s.asr_send_ms <= 1000:
        raise ConfigError("asr_send_ms must be between 20 and 1000")


def _events(s: Settings) -> None:
    """Subscription notifications: retries, timeouts, the WebSocket gateway."""
    if not 0 < s.events_retry_initial_s <= s.events_retry_max_s:
        raise ConfigError("events_retry_initial_s must be > 0 and ≤ events_retry_max_s")
    if s.events_webhook_timeout_s <= 0:
        raise ConfigError("events_webhook_timeout_s must be > 0 (seconds)")
    if not 1 <= s.events_ws_recovery_s <= 86_400:
        raise ConfigError("events_ws_recovery_s must be 1-86400 (seconds)")
    if s.events_max_failures < 1:
        raise ConfigError("events_max_failures must be ≥ 1")


def _supervision(s: Settings) -> None:
    """Supervisors' web-phone queues and heartbeats."""
    if s.supervision_queue_frames < 5:
        raise ConfigError("supervision_queue_frames must be ≥ 5 (100 ms)")
    if s.supervision_heartbeat_s <= 0:
        raise ConfigError("supervision_heartbeat_s must be > 0 (seconds)")


def _insights(s: Settings) -> None:
    """Insights, their LLM endpoint and retention."""
    if s.retention_days < 0 or s.retention_sweep_s <= 0:
        raise ConfigError("retention_days must be ≥ 0 and retention_sweep_s > 0")
    if s.insights_llm_deadline_s <= 0:
        raise ConfigError("insights_llm_deadline_s must be > 0 (seconds)")
    if s.insights_llm_url and not s.insights_llm_url.startswith(("http://", "https://")):
        raise ConfigError("insights_llm_url must be an http:// or https:// URL")
    if s.insights_transcript_wait_s < 0:
        raise ConfigError("insights_transcript_wait_s must be ≥ 0 (seconds)")


def _cluster(s: Settings) -> None:
    """Redis, node names and heartbeats."""
    if s.redis_url:
        if not s.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("redis_url must be a redis://, rediss:// or unix:// URL")
        if not s.database_url.startswith("postgresql"):
            raise ConfigError(
                "redis_url runs several nodes on one database: set database_url to "
                "PostgreSQL (postgresql+asyncpg://…); SQLite is one node's file"
            )
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", s.redis_prefix):
        raise ConfigError("redis_prefix must be 1-64 letters, digits, '.', '_' or '-'")
    if s.node_id and not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", s.node_id):
        raise ConfigError("node_id must be 1-64 letters, digits, '.', '_' or '-'")
    if s.advertise_url and not s.advertise_url.startswith(("http://", "https://")):
        raise ConfigError("advertise_url must be an http:// or https:// URL")
    if not 0 < s.node_heartbeat_s * 3 <= s.node_dead_after_s:
        raise ConfigError("need 0 < 3 × node_heartbeat_s ≤ node_dead_after_s")


def _login(s: Settings) -> None:
    """Login throttling and password hashing."""
    if s.login_max_failures_per_user < 1 or s.login_max_failures_per_ip < 1:
        raise ConfigError("login_max_failures_per_user and login_max_failures_per_ip must be ≥ 1")
    if s.login_user_window_s <= 0 or s.login_ip_window_s <= 0:
        raise ConfigError("login_user_window_s and login_ip_window_s must be > 0 (seconds)")
    if not 0 < s.login_lockout_s <= s.login_lockout_max_s:
        raise ConfigError("need 0 < login_lockout_s ≤ login_lockout_max_s (seconds)")
    if not 1 <= s.login_hash_threads <= 16:
        raise ConfigError("login_hash_threads must be 1-16 (each hash holds 128 MiB)")
    if not 0 <= s.login_max_queued_checks <= 1000:
        raise ConfigError("login_max_queued_checks must be 0-1000")


def _sip(s: Settings) -> None:
    """The SIP registrar for supervisors' phones."""
    if not 0 <= s.sip_port < 65536:
        raise ConfigError(f"sip_port {s.sip_port}: use 1-65535, or 0 (off)")
    if s.sip_port and s.sip_bind_host in ("0.0.0.0", "::", ""):  # noqa: S104
        raise ConfigError("sip_host: name the address SIP devices reach (not 0.0.0.0)")
    if s.sip_invite_timeout_s <= 0:
        raise ConfigError(
            f"sip_invite_timeout_s {s.sip_invite_timeout_s}: use a number of seconds > 0"
        )
    if s.sip_tls_port and not (s.sip_port and s.tls_cert):
        raise ConfigError("sip_tls_port needs sip_port, and tls_cert and tls_key")
    if not 0 <= s.sip_tls_port < 65536 or (s.sip_tls_port and s.sip_tls_port == s.sip_port):
        raise ConfigError(f"sip_tls_port {s.sip_tls_port}: 1-65535 and not sip_port")
    if not s.sip_realm or '"' in s.sip_realm or len(s.sip_realm) > 128:
        raise ConfigError("sip_realm: 1-128 characters, no double quote")


def _network(s: Settings) -> None:
    """gRPC listener, TLS and trusted proxies."""
    if not 0 <= s.grpc_port < 65536:
        raise ConfigError(f"grpc_port {s.grpc_port}: use 1-65535, or 0 (off)")
    if s.grpc_port and s.grpc_port == s.port and s.grpc_bind_host == s.host:
        raise ConfigError("grpc_port must differ from port (HTTP) on the same address")
    if bool(s.tls_cert) != bool(s.tls_key):
        raise ConfigError("set both tls_cert and tls_key (PEM files), or neither")
    if s.http_tls and not s.tls_cert:
        raise ConfigError("http_tls needs tls_cert and tls_key (PEM files)")
    if s.grpc_port and not s.tls_cert and not is_loopback(s.grpc_bind_host):
        raise ConfigError(
            "RingCX streams gRPC over TLS only: set tls_cert and tls_key (a certificate "
            "matching the workflow's host name), or bind grpc_host to loopback for tests"
        )
    TrustedProxies.parse(s.trusted_proxies)  # the error names the entry and the fix
    if s.grpc_max_streams < 1:
        raise ConfigError("grpc_max_streams must be ≥ 1")


#: every group's check, in the order they run
_GROUPS = (
    _server,
    _ingest_streams,
    _ingest_audio,
    _transcription,
    _events,
    _supervision,
    _insights,
    _cluster,
    _login,
    _sip,
    _network,
)


def check_settings(s: Settings) -> None:
    """Check every setting (``Settings.__post_init__``).

    Raises:
        ConfigError: the first setting out of range; the message says the fix.
    """
    for check in _GROUPS:
        check(s)
