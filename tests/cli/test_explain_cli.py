"""`claudewire explain` as users run it: an argument or stdin, text or --json, and its exit codes."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

from click.testing import CliRunner

from claudewire.cli.explain import explain


def test_explain_argument_prints_kind_retry_cause_fix_and_check() -> None:
    """An argument is explained in five labelled lines, naming the doctor check."""
    result = CliRunner().invoke(explain, ["HTTP/1.1 429 Too Many Requests\nretry-after: 12"])
    assert result.exit_code == 0
    assert "kind:      rate_limit (HTTP 429)" in result.output
    assert "retryable: yes (after 12s)" in result.output
    assert "'ratelimit' check" in result.output


def test_explain_json_from_stdin() -> None:
    """With no argument the text is read from stdin; --json prints exactly the five contract fields."""
    text = "Error: getaddrinfo ENOTFOUND api.anthropic.com\n    at GetAddrInfoReqWrap.onlookup"
    proc = subprocess.run(
        [sys.executable, "-m", "claudewire", "explain", "--json"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc == {
        "kind": "dns",
        "retryable": True,
        "cause": doc["cause"],
        "fix": doc["fix"],
        "check": "dns",
    }
    assert "resolved" in doc["cause"]


def test_unknown_text_is_still_an_answer() -> None:
    """Nothing recognisable is still an answer: kind unknown, with the doctor as the next step."""
    result = CliRunner().invoke(explain, ["--json", "everything is fine"])
    assert json.loads(result.output)["kind"] == "unknown"


def test_empty_input_is_a_usage_error() -> None:
    """Empty text (argument or stdin) exits 2 with a message saying what to paste."""
    result = CliRunner().invoke(explain, ["  "])
    assert result.exit_code == 2
    assert "nothing to explain" in result.output
    piped = CliRunner().invoke(explain, [], input="")
    assert piped.exit_code == 2


def test_unknown_text_exits_1() -> None:
    """Nothing recognisable exits 1 (with kind unknown and the doctor as the next step), text and --json alike."""
    for args in (["everything is fine"], ["--json", "everything is fine"]):
        result = CliRunner().invoke(explain, args)
        assert result.exit_code == 1
        assert "unknown" in result.output


def test_long_fix_wraps_with_a_hanging_indent() -> None:
    """cause and fix wrap to the terminal width with continuation lines under the text, not under the label."""
    result = CliRunner().invoke(explain, ["[SSL: CERTIFICATE_VERIFY_FAILED] unable to get local issuer certificate"])
    lines = result.output.splitlines()
    fix = next(i for i, line in enumerate(lines) if line.startswith("fix:"))
    assert lines[fix + 1].startswith(" " * 11) and lines[fix + 1][11] != " "
    assert all(len(line) <= 120 for line in lines)


def test_a_terminal_gets_a_prompt_and_a_paste_is_read() -> None:
    """On a TTY with no argument, explain says "paste, then Ctrl-D" and explains what was pasted (exit 0)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: claudewire explain with the pty as its terminal
        os.execv(sys.executable, [sys.executable, "-m", "claudewire", "explain"])
    out = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
        if not sent and b"Ctrl-D" in out:
            os.write(fd, b"API Error: Unable to connect to API (ConnectionRefused)\n\x04")
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = out.decode(errors="replace")
    assert "Paste the error message, then press Ctrl-D" in text
    assert "connect_refused" in text
    assert os.waitstatus_to_exitcode(status) == 0
