"""`claudewire explain` as users run it: an argument or stdin, text or --json, and its exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

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


def test_unknown_text_exits_0_with_kind_unknown() -> None:
    """Nothing recognisable is still an answer: kind unknown, run the doctor, exit 0."""
    result = CliRunner().invoke(explain, ["--json", "everything is fine"])
    assert result.exit_code == 0
    assert json.loads(result.output)["kind"] == "unknown"


def test_empty_input_is_a_usage_error() -> None:
    """Empty text (argument or stdin) exits 2 with a message saying what to paste."""
    result = CliRunner().invoke(explain, ["  "])
    assert result.exit_code == 2
    assert "nothing to explain" in result.output
    piped = CliRunner().invoke(explain, [], input="")
    assert piped.exit_code == 2
