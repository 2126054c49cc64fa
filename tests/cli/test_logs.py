"""Logs that reach the operator: --log-level / --log-format on the long-running commands, redacted, on stderr."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from claudewire.cli import logs
from claudewire.testing import run_sim
from tests.conftest import SIM_MODEL

HELD_KEY = "sk-ant-api03-held-by-the-gateway-0000000000"
TOKEN = "cw-operator-test-token-0123456789"
FIELDS = {"time", "level", "logger", "message"}


def _config(tmp_path: Path) -> Path:
    # three attempts a call, backoff of milliseconds, and a breaker that opens on the third failure in a row
    path = tmp_path / "claudewire.toml"
    path.write_text(
        f'[proxy]\nupstream_key = "{HELD_KEY}"\ntokens = ["{TOKEN}"]\n'
        "[policy]\nmax_retries = 2\nbackoff_initial = 0.01\nbackoff_max = 0.02\nbreaker_failures = 3\n"
        "breaker_silence = 0\n"
    )
    return path


def _faulty_run(tmp_path: Path, *flags: str) -> tuple[str, str]:
    """A proxy in front of an always-529 simulator, two calls through it, then SIGINT: (stdout, stderr)."""
    with run_sim(faults=["529:1.0,retry_after=none"]) as sim:
        proc = subprocess.Popen(
            [sys.executable, "-m", "claudewire", "proxy", "--port", "0", "--upstream", sim.base_url,
             "--config", str(_config(tmp_path)), *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None
            banner = proc.stdout.readline() + proc.stdout.readline()
            base_url = banner.split("export ANTHROPIC_BASE_URL=")[1].split()[0]
            client = anthropic.Anthropic(base_url=base_url, api_key=TOKEN, max_retries=0)
            for _ in range(2):  # the first is retried and opens the breaker; the breaker rejects the second
                with pytest.raises(anthropic.APIStatusError):
                    client.messages.create(model=SIM_MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return banner + out, err


def test_a_faulty_proxy_run_logs_retries_and_the_breaker_as_text_by_default(tmp_path: Path) -> None:
    """At the default level, retries (INFO) and the breaker opening (WARNING) reach stderr as timed text lines."""
    _, err = _faulty_run(tmp_path)
    lines = err.splitlines()
    retries = [line for line in lines if " INFO claudewire.gateway: retrying " in line]
    breaker = [line for line in lines if " WARNING claudewire.policy.engine: circuit breaker of " in line]
    assert len(retries) == 2 and len(breaker) == 1 and breaker[0].endswith("closed -> open")
    assert all(line[:4].isdigit() and line[10] == "T" for line in retries + breaker)  # an ISO time first
    assert any('"route":"messages"' in line for line in lines)  # the access log still on its own lines


def test_json_log_lines_parse_and_carry_time_level_logger_message(tmp_path: Path) -> None:
    """--log-format json: every stderr line is a JSON object with the fields, retries and breaker among them."""
    _, err = _faulty_run(tmp_path, "--log-format", "json", "--access-log", str(tmp_path / "access.log"))
    records = [json.loads(line) for line in err.splitlines()]
    assert records and all(set(r) >= FIELDS for r in records)
    seen = {(r["level"], r["logger"], r["message"].split(" ")[0]) for r in records}
    assert ("INFO", "claudewire.gateway", "retrying") in seen
    assert ("WARNING", "claudewire.policy.engine", "circuit") in seen


def test_no_line_of_a_faulty_run_holds_the_key_or_the_token(tmp_path: Path) -> None:
    """Neither the held upstream key nor the client's token appears on any stdout or stderr line, at DEBUG."""
    out, err = _faulty_run(tmp_path, "--log-level", "DEBUG")
    assert "claudewire.gateway" in err  # the run did log
    for line in (out + err).splitlines():
        assert HELD_KEY not in line and TOKEN not in line
        assert HELD_KEY[:-4] not in line and TOKEN[:-4] not in line


def test_a_higher_level_drops_the_info_lines(tmp_path: Path) -> None:
    """--log-level WARNING keeps the breaker's line and drops the retries."""
    _, err = _faulty_run(tmp_path, "--log-level", "WARNING")
    assert "circuit breaker of" in err and "retrying" not in err


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The CLI's logging set-up writing into a buffer, undone afterwards."""
    stream = io.StringIO()
    logs.configure("INFO", "json", stream=stream)
    try:
        yield stream
    finally:
        logs.reset()


def test_a_library_logging_a_key_or_a_held_token_is_redacted(captured: io.StringIO) -> None:
    """Whatever logger writes a key, an Authorization header or a held secret, the line shows only its last four."""
    logs.hide("cw-held-secret-abcdefghij")
    some_library = logging.getLogger("some.http.library")
    some_library.warning("sending x-api-key: %s", HELD_KEY)
    some_library.warning("Authorization: Bearer %s", "opaque-bearer-value-123456")
    logging.getLogger("claudewire.gateway").info("token cw-held-secret-abcdefghij", extra={"request_id": "req_7"})
    try:
        raise RuntimeError(f"failed with {HELD_KEY}")
    except RuntimeError:
        some_library.exception("boom")
    text = captured.getvalue()
    for secret in (HELD_KEY, "opaque-bearer-value-123456", "cw-held-secret-abcdefghij"):
        assert secret not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"] == "sending x-api-key: sk-ant-…0000"
    assert records[2] == {**records[2], "request_id": "req_7", "message": "token …ghij"}
    assert "RuntimeError" in records[3]["exc"] and "sk-ant-…0000" in records[3]["exc"]


def test_info_opens_claudewires_loggers_but_not_other_libraries_info(captured: io.StringIO) -> None:
    """At INFO an HTTP library's per-request INFO line stays out; claudewire's INFO and anyone's WARNING get in."""
    logging.getLogger("httpx").info("HTTP Request: POST /v1/messages")
    logging.getLogger("httpx").warning("a library warning")
    logging.getLogger("claudewire.state.sync").info("an event from another replica")
    messages = [json.loads(line)["message"] for line in captured.getvalue().splitlines()]
    assert messages == ["a library warning", "an event from another replica"]


def test_sim_log_requests_writes_request_lines_through_the_same_setup() -> None:
    """`claudewire sim --log-requests --log-format json` logs each request as a JSON line on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "claudewire", "sim", "--port", "0", "--pacing", "off", "--log-requests",
         "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url = ""
        while not base_url:
            line = proc.stdout.readline()
            assert line, "the simulator exited early"
            if "export ANTHROPIC_BASE_URL=" in line:
                base_url = line.split("=", 1)[1].split()[0]
        client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-sim-anything-1234", max_retries=0)
        client.messages.create(model=SIM_MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    records = [json.loads(line) for line in err.splitlines()]
    assert [r["logger"] for r in records] == ["claudewire.sim.requests"]
    assert records[0]["message"].startswith("POST /v1/messages -> 200 in ")
