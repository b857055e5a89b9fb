"""Settings: defaults, environment, flags, errors, and the README table."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from callscope.cli import build_parser
from callscope.cli.demo import _demo_settings
from callscope.config import Settings, add_settings_arguments, settings_table
from callscope.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    s = Settings.from_sources(env={})
    assert (s.host, s.port, s.data_dir) == ("127.0.0.1", 8080, Path("callscope-data"))
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith("callscope-data/callscope.db")


def test_environment_then_flags_then_overrides() -> None:
    env = {"CALLSCOPE_PORT": "9000", "CALLSCOPE_GC_FREEZE": "false", "CALLSCOPE_HOST": "0.0.0.0"}
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    args = parser.parse_args(["--port", "9100", "--ingest-idle-timeout-s", "2.5"])
    s = Settings.from_sources(env=env, args=args, host="127.0.0.2")
    assert s.port == 9100
    assert s.gc_freeze is False
    assert s.ingest_idle_timeout_s == 2.5
    assert s.host == "127.0.0.2"


@pytest.mark.parametrize(
    ("env", "match"),
    [
        ({"CALLSCOPE_PORT": "eighty"}, "CALLSCOPE_PORT='eighty': expected int"),
        ({"CALLSCOPE_PORT": "70000"}, "port 70000 is out of range"),
        ({"CALLSCOPE_GC_FREEZE": "maybe"}, "use true or false"),
        ({"CALLSCOPE_LOG_LEVEL": "LOUD"}, "log_level"),
        ({"CALLSCOPE_INGEST_IDLE_TIMEOUT_S": "0"}, "ingest_idle_timeout_s"),
        ({"CALLSCOPE_INGEST_BATCH_FRAMES": "99"}, "ingest_batch_frames"),
        ({"CALLSCOPE_INGEST_WINDOW_FRAMES": "0"}, "ingest_window_frames"),
        ({"CALLSCOPE_INGEST_MAX_MESSAGE_BYTES": "10"}, "ingest_max_message_bytes"),
        ({"CALLSCOPE_INGEST_MAX_GAP_FRAMES": "5"}, "ingest_max_gap_frames must be ≥"),
        ({"CALLSCOPE_INGEST_MAX_CONCEALED_S": "0"}, "ingest_max_concealed_s"),
        ({"CALLSCOPE_INGEST_PING_INTERVAL_S": "-1"}, "ingest_ping_interval_s must be ≥ 0"),
        ({"CALLSCOPE_DRAIN_TIMEOUT_S": "-1"}, "drain_timeout_s must be ≥ 0"),
        ({"CALLSCOPE_SIP_PORT": "70000"}, "sip_port 70000"),
        ({"CALLSCOPE_SIP_PORT": "5060", "CALLSCOPE_HOST": "0.0.0.0"}, "sip_host: name the address"),
        ({"CALLSCOPE_SIP_TLS_PORT": "5061"}, "sip_tls_port needs sip_port"),
        ({"CALLSCOPE_SIP_PORT": "5060", "CALLSCOPE_SIP_REALM": 'a"b'}, "sip_realm"),
    ],
)
def test_bad_values_say_what_to_fix(env: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Settings.from_sources(env=env)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("10.0.0.5", False),
        ("callscope.example", False),
    ],
)
def test_loopback_only_tells_which_hosts_the_network_reaches(host: str, loopback: bool) -> None:
    assert Settings(host=host).loopback_only is loopback


def test_readme_carries_the_current_settings_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert settings_table() in readme, (
        "README settings table is stale: run `callscope settings --markdown`"
    )


def test_webhook_targets_are_public_only_by_default() -> None:
    assert Settings.from_sources(env={}).events_webhook_allow_private is False


@pytest.mark.parametrize(
    ("argv", "env", "allowed"),
    [
        ([], None, True),  # the demo is a lab: RingCentral's samples use http://localhost
        (["--no-events-webhook-allow-private"], None, False),
        ([], "false", False),
        (["--events-webhook-allow-private"], "false", True),
    ],
)
def test_the_demo_allows_private_webhook_targets_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], env: str | None, allowed: bool
) -> None:
    name = "CALLSCOPE_EVENTS_WEBHOOK_ALLOW_PRIVATE"
    monkeypatch.delenv(name, raising=False)
    if env is not None:
        monkeypatch.setenv(name, env)
    args = build_parser().parse_args(["demo", *argv])
    assert _demo_settings(args).events_webhook_allow_private is allowed
