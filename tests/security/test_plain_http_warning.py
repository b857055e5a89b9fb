"""`serve` on a non-loopback address warns, once, that it speaks plain HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Server

pytestmark = pytest.mark.slow

WARNING = "over plain HTTP: access tokens, streaming secrets and call audio cross the network"


def serve_log(factory: type[Server], tmp_path: Path, *args: str) -> str:
    """Start `callscope serve` with ``args``, wait for /health, stop it, return its log."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    server = factory(tmp_path / "data", extra_args=list(args)).start()
    assert server.stop() == 0
    return server.log()


def test_every_interface_without_tls_proxy_warns_once(
    server_factory: type[Server], tmp_path: Path
) -> None:
    log = serve_log(server_factory, tmp_path, "--host", "0.0.0.0")
    (line,) = [line for line in log.splitlines() if WARNING in line]
    assert " WARNING " in line
    assert "TLS-terminating proxy" in line
    assert "deploy/nginx.conf" in line
    assert "--behind-tls-proxy" in line


def test_behind_a_tls_proxy_or_on_loopback_it_is_quiet(
    server_factory: type[Server], tmp_path: Path
) -> None:
    behind = serve_log(server_factory, tmp_path / "a", "--host", "0.0.0.0", "--behind-tls-proxy")
    loopback = serve_log(server_factory, tmp_path / "b", "--host", "127.0.0.1")
    assert "callscope 0" in behind  # it did start and log
    assert WARNING not in behind
    assert WARNING not in loopback
