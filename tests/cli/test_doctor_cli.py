"""`claudewire doctor` as users run it: a real process, its stdout, stderr and exit code."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from claudewire.sim import Pacing
from claudewire.testing import run_sim
from tests.doctor.https_app import metadata_handler, models_handler, serve_https

KEY = "sk-ant-api03-cli-doctor-key-0123456789wxyz"
CHECKS = ["config", "proxy", "dns", "tcp", "tls", "certificate", "http", "clock", "auth", "version", "model"]
CHECKS += ["ratelimit", "messages", "streaming"]

pytestmark = pytest.mark.timeout(120)


def _env(**extra: str) -> dict[str, str]:
    """The current environment without anything that would change the doctor's view (proxies, keys, CAs)."""
    drop = ("PROXY", "ANTHROPIC_", "SSL_CERT", "NODE_EXTRA_CA_CERTS", "NO_COLOR", "FORCE_COLOR")
    env = {k: v for k, v in os.environ.items() if not any(d in k.upper() for d in drop)}
    env.update(extra)
    return env


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "claudewire", "doctor", *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        timeout=100,
        check=False,
    )


def test_doctor_sim_prints_a_clean_passing_report() -> None:
    """`claudewire doctor --sim` (the README's first command) exits 0 with every check passing, nothing on stderr."""
    result = _doctor("--sim")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    for check in CHECKS:
        assert any(line.startswith(f"✓  {check} ") for line in lines), (check, result.stdout)
    assert "PASS (14 pass)" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no colour codes
    assert "Fixes" not in result.stdout


def test_doctor_sim_json_is_the_only_thing_on_stdout() -> None:
    """--json prints one JSON document (verdict pass, checks in order) and nothing else on stdout."""
    result = _doctor("--sim", "--json", "--api-key", KEY)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["verdict"] == "pass"
    assert [c["id"] for c in doc["checks"]] == CHECKS
    assert KEY not in result.stdout + result.stderr
    assert doc["checks"][0]["evidence"]["api_key"] == "sk-ant-…wxyz"


def test_doctor_markdown_and_cursor_profile() -> None:
    """--markdown prints a pasteable report; the cursor profile under --sim adds http2 (skipped: not simulated)."""
    result = _doctor("--sim", "--markdown", "--profile", "cursor")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("### claudewire doctor: PASS")
    assert "| – | http2 |" in result.stdout


def test_doctor_reads_the_environment_and_exits_1_on_failure() -> None:
    """ANTHROPIC_BASE_URL/ANTHROPIC_API_KEY are used; a failing check makes the exit code 1, the key stays hidden."""
    with run_sim(faults=["401"], pacing=Pacing()) as sim:
        env = _env(ANTHROPIC_BASE_URL=sim.base_url, ANTHROPIC_API_KEY=KEY)
        result = _doctor("--json", "--timeout", "2", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    auth = next(c for c in doc["checks"] if c["id"] == "auth")
    assert auth["status"] == "fail"
    assert doc["checks"][0]["evidence"]["key_source"] == "ANTHROPIC_API_KEY"
    assert KEY not in result.stdout + result.stderr


def test_doctor_refused_port_exits_1_with_a_fix() -> None:
    """Nothing listening at the base URL: exit 1, tcp named, the fix printed under the table."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = _doctor("--base-url", f"http://127.0.0.1:{port}", "--api-key", KEY, "--timeout", "1")
    assert result.returncode == 1
    assert "✗  tcp" in result.stdout
    assert "Fixes, most important first:" in result.stdout
    assert KEY not in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--json", "--markdown"],
        ["--sim", "--base-url", "http://127.0.0.1:1"],
        ["--timeout", "0"],
        ["--profile", "vscode"],
        ["--url", "https://gw.example.com/cursor"],  # the api profile has no --url checks
        ["--token", "cw-token-without-url"],
        ["--profile", "claude-code", "--url", "https://gw.corp.internal:8787", "--token", "cw-not-for-sign-in"],
        ["--profile", "cursor", "--url", "ftp://gw.example.com/cursor"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    """Contradictory or invalid options are usage errors: exit 2 with click's message on stderr."""
    result = _doctor(*args)
    assert result.returncode == 2
    assert "Error" in result.stderr
    assert result.stdout == ""


def _on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """Run the doctor with stdout on a pseudo-terminal and return what it wrote."""
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "doctor", *args], stdout=secondary, stderr=secondary, env=env
    )
    os.close(secondary)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(100)
    os.close(main)
    return b"".join(chunks).decode(errors="replace")


def test_terminal_colours_and_no_color() -> None:
    """On a terminal the report is coloured; with NO_COLOR set it is not."""
    coloured = _on_a_terminal("--sim", env=_env(TERM="xterm-256color"))
    plain = _on_a_terminal("--sim", env=_env(TERM="xterm-256color", NO_COLOR="1"))
    assert "\x1b[32m" in coloured or "\x1b[1;32m" in coloured
    assert "✓" in plain
    assert "\x1b[32m" not in plain and "\x1b[1;32m" not in plain


def test_help_documents_save_ca() -> None:
    """`doctor --help` lists --save-ca PATH with the variables its fix points at, and an example."""
    result = _doctor("--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "--save-ca PATH" in text and "SSL_CERT_FILE / NODE_EXTRA_CA_CERTS" in text
    assert "claudewire doctor --save-ca ca.pem" in text


def test_help_teaches_url_and_token() -> None:
    """`doctor --help` explains --url (as Cursor's servers reach it; as Claude Code's gateway sign-in needs it) and
    --token (its variables), with examples and the reach_* and signin_* checks in the list."""
    result = _doctor("--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "--url URL" in text and "as Cursor's servers reach it" in text and "public roots alone" in text
    assert "--token TOKEN" in text and "$CLAUDEWIRE_TOKEN" in text and "never printed" in text
    assert "claudewire doctor --profile cursor --url https://gw.example.com/cursor" in text
    assert "reach_dns reach_https reach_certificate reach_models" in text
    assert "With --profile claude-code: a gateway URL" in text and "SHA-256 fingerprint" in text
    assert "claudewire doctor --profile claude-code --url https://gateway.corp.internal:8787" in text
    assert "signin_https signin_dns signin_certificate signin_metadata" in text


def test_cursor_url_from_the_command_line(tmp_path: Path) -> None:
    """`doctor --profile cursor --url ... --json` against a gateway-like server on 127.0.0.1: exit 1, the reach_*
    checks last (a loopback address and a private CA fail, the models list passes), the token nowhere in the output."""
    token = "cw-cli-token-0123456789-wxyz"
    with serve_https(tmp_path, models_handler(token)) as app:
        env = _env(SSL_CERT_FILE=app.ca_path, CLAUDEWIRE_TOKEN=token)
        result = _doctor("--profile", "cursor", "--url", app.url("/cursor"), "--json", "--timeout", "2", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    checks = {c["id"]: c for c in doc["checks"]}
    assert [c["id"] for c in doc["checks"]][-4:] == ["reach_dns", "reach_https", "reach_certificate", "reach_models"]
    assert doc["target"] == app.url("/cursor")
    assert checks["reach_dns"]["status"] == "fail" and checks["reach_certificate"]["status"] == "fail"
    assert checks["reach_models"]["status"] == "pass"
    assert checks["reach_models"]["evidence"]["token_source"] == "CLAUDEWIRE_TOKEN"
    assert token not in result.stdout + result.stderr


def test_claude_code_gateway_url_from_the_command_line(tmp_path: Path) -> None:
    """`doctor --profile claude-code --url https://127.0.0.1:PORT --json` against a gateway offering sign-in, its CA
    in NODE_EXTRA_CA_CERTS: the signin_* checks pass and the fingerprint is the served certificate's SHA-256."""
    with serve_https(tmp_path, metadata_handler()) as app:
        env = _env(HOME=str(tmp_path / "home"), NODE_EXTRA_CA_CERTS=app.ca_path)
        args = ["--profile", "claude-code", "--url", app.url(), "--model", "claude-haiku-4-5", "--json"]
        result = _doctor(*args, "--timeout", "2", env=env)
        fingerprint = hashlib.sha256(app.leaf_der).hexdigest()
    doc = json.loads(result.stdout)
    checks = {c["id"]: c for c in doc["checks"]}
    assert [c["id"] for c in doc["checks"]][-4:] == [
        "signin_https",
        "signin_dns",
        "signin_certificate",
        "signin_metadata",
    ]
    assert all(checks[c]["status"] == "pass" for c in ("signin_https", "signin_dns", "signin_certificate")), checks
    assert checks["signin_metadata"]["status"] == "pass", checks["signin_metadata"]
    assert checks["signin_certificate"]["evidence"]["fingerprint_sha256"] == fingerprint
    assert f"Certificate fingerprint (SHA-256): {fingerprint}" in checks["signin_certificate"]["detail"]
