"""`claudewire sim` as a user runs it: a real process, its printed URL, Ctrl-C and SIGTERM, bad flags."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

import anthropic
import pytest

from claudewire.sim import FaultKind
from tests.conftest import SIM_KEY, SIM_MODEL

HELLO = [{"role": "user", "content": "Hello"}]


def start(*args: str) -> tuple[subprocess.Popen[str], str, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "sim", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"sim exited early: {proc.stderr.read() if proc.stderr else ''}")
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            break
    match = re.search(r"export ANTHROPIC_BASE_URL=(\S+)", "".join(lines))
    assert match is not None
    return proc, match.group(1), lines


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_serves_and_stops_cleanly(sig: signal.Signals) -> None:
    """The CLI prints the base URL, serves the SDK with the requested fault, and exits 0 on SIGINT or SIGTERM."""
    proc, base_url, lines = start("--fault", "529:1.0,count=1", "--seed", "3")
    try:
        c = anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
        with pytest.raises(anthropic.OverloadedError):
            c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
        assert c.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO).content
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "stopped after 2 request(s)" in out
    assert "faults: 529:1,count=1" in lines[0]


def test_cli_tls_prints_the_ca_and_redacts_keys() -> None:
    """--tls prints an SSL_CERT_FILE export; --api-key values are shown redacted, never in full."""
    key = "sk-ant-api03-secretsecretsecret-WXYZ"
    proc, base_url, lines = start("--tls", "--api-key", key)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=15)
    text = "".join(lines) + out
    assert base_url.startswith("https://")
    assert re.search(r"export SSL_CERT_FILE=\S+\.pem", text)
    assert key not in text and "WXYZ" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fault", "bogus"], "unknown fault 'bogus'"),
        (["--profile", "nope"], "nope"),
        (["--port", "70000"], "70000"),
        (["--api", "azure"], "azure"),
        (["--api", "bedrock", "--aws-access-key-id", "AKID"], "--aws-secret-access-key"),
        (["--fault", "midstream_error,status=200"], "status must be an HTTP error status"),
        (["--today", "2026-13-01"], "does not match the format"),
    ],
)
def test_cli_rejects_bad_flags(args: list[str], message: str) -> None:
    """Bad flags exit non-zero with a message saying what is wrong."""
    result = subprocess.run(
        [sys.executable, "-m", "claudewire", "sim", *args], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_cli_help_teaches_profiles_and_grammar() -> None:
    """--help lists the profiles with their faults, the grammar and examples."""
    result = subprocess.run(
        [sys.executable, "-m", "claudewire", "sim", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for needle in ("corporate-proxy", "captive-portal", "KIND[:RATE]", "midstream_error:1.0,after=3", "--seed"):
        assert needle in result.stdout


def test_every_fault_kind_is_reachable_by_flag() -> None:
    """The CLI accepts every fault kind as --fault (shown back in its start line), plus the documented keys."""
    specs = [f"{kind.value}:0" for kind in FaultKind]
    specs += ["429:0,retry_after=none", "latency:0,ms=100-500", "cut:0,after=2,count=1,path=/v1/messages"]
    proc, _, lines = start(*[arg for spec in specs for arg in ("--fault", spec)])
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=15)
    assert proc.returncode == 0
    for kind in FaultKind:
        assert f" {kind.value}:0" in lines[0] or f"faults: {kind.value}:0" in lines[0]
    assert "retry_after=none" in lines[0] and "ms=100-500" in lines[0] and "path=/v1/messages" in lines[0]


def test_cli_port_in_use_is_a_clear_error() -> None:
    """A port already taken exits 2 saying it cannot listen there."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "claudewire", "sim", "--port", str(port)], capture_output=True, text=True, timeout=30
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port 0" in result.stderr  # and says how to get a free one


def test_cli_bedrock_mode_prints_its_environment_and_verifies_signatures() -> None:
    """--api bedrock prints ANTHROPIC_BEDROCK_BASE_URL and the region; with a key pair it verifies SigV4."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "claudewire",
            "sim",
            "--port",
            "0",
            "--api",
            "bedrock",
            "--region",
            "eu-west-1",
            "--aws-access-key-id",
            "AKIDCLI",
            "--aws-secret-access-key",
            "cli-secret",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(5)]
    try:
        match = re.search(r"export ANTHROPIC_BEDROCK_BASE_URL=(\S+) AWS_REGION=eu-west-1", "".join(lines))
        assert match is not None, lines
        args = {"aws_access_key": "AKIDCLI", "aws_region": "eu-west-1", "base_url": match.group(1), "max_retries": 0}
        good = anthropic.AnthropicBedrock(aws_secret_key="cli-secret", **args)  # type: ignore[arg-type]
        assert good.messages.create(model="anthropic." + SIM_MODEL + "-v1:0", max_tokens=8, messages=HELLO).content
        bad = anthropic.AnthropicBedrock(aws_secret_key="other", **args)  # type: ignore[arg-type]
        with pytest.raises(anthropic.PermissionDeniedError):
            bad.messages.create(model="anthropic." + SIM_MODEL + "-v1:0", max_tokens=8, messages=HELLO)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=15)
    assert "signatures verified" in "".join(lines)


def _first_event_after(base_url: str) -> tuple[float, float]:
    """Seconds to the first content delta and from there to the last event, of one streamed reply."""
    client = anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
    start = time.monotonic()
    times: list[float] = []
    with client.messages.stream(model=SIM_MODEL, max_tokens=12, messages=HELLO) as stream:
        for event in stream:
            if event.type == "content_block_delta" or times:
                times.append(time.monotonic() - start)
    return times[0], times[-1] - times[0]


@pytest.mark.parametrize(("args", "realistic"), [((), True), (("--pacing", "off"), False)])
def test_cli_paces_streams_like_a_model_unless_pacing_is_off(args: tuple[str, ...], realistic: bool) -> None:
    """By default the CLI streams at a model's tempo (first token 0.4 s, then 20 ms a token); --pacing off: at once."""
    proc, base_url, lines = start(*args)
    try:
        first, spread = _first_event_after(base_url)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)
    # lower bounds only: a loaded machine can delay events, never hurry them
    if realistic:
        assert "pacing: first token after 0.4 s, then 20 ms a token" in lines[0]
        assert first >= 0.35 and first + spread >= 0.4 + 11 * 0.02 - 0.02
    else:
        assert "pacing off" in lines[0]


def test_cli_log_requests_prints_one_line_per_request() -> None:
    """--log-requests logs method, path, status and time of each request on stderr."""
    proc, base_url, _ = start("--log-requests", "--pacing", "off")
    try:
        client = anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
        client.messages.create(model=SIM_MODEL, max_tokens=8, messages=HELLO)
        with pytest.raises(anthropic.NotFoundError):
            client.models.retrieve("claude-nonexistent-9")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert re.search(r"INFO claudewire.sim.requests: POST /v1/messages -> 200 in \d+ ms", err)
    assert re.search(r"GET /v1/models/claude-nonexistent-9 -> 404 in \d+ ms", err)


def test_cli_today_judges_lifecycles_on_that_day() -> None:
    """--today 2026-11-29 serves claude-sonnet-4-5 (deprecated on that day); without it the model is retired (404)."""
    body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": HELLO}
    for args, served in ((("--today", "2026-11-29"), True), ((), False)):
        proc, base_url, _ = start("--pacing", "off", *args)
        try:
            client = anthropic.Anthropic(base_url=base_url, api_key=SIM_KEY, max_retries=0)
            if served:
                assert client.messages.create(**body).content  # type: ignore[call-overload]
                assert client.models.retrieve("claude-sonnet-4-5").model_dump()["lifecycle"] == "deprecated"
            else:
                with pytest.raises(anthropic.NotFoundError):
                    client.messages.create(**body)  # type: ignore[call-overload]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=15)
