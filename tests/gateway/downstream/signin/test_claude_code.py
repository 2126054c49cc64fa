"""The real Claude Code CLI signs in to the gateway (its /login "Cloud gateway", driven in tmux), answers through it,
and its session ends at the next refresh once the IdP no longer knows the user.

Claude Code takes the gateway URL only from a *managed* settings file, at a fixed path (/etc/claude-code on Linux).
The test never writes the machine's /etc: Claude Code runs in a private mount namespace whose /etc is an overlay,
so the file exists for it alone (root, unshare and overlayfs needed; skipped otherwise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from claudewire.sim import SimServer
from tests.gateway.downstream.signin.idp import ALLOWED, HAVE_IDP, JS, Deployment, browser_sign_in

CLAUDES = {
    "2.1.197": JS / "node_modules" / "claude-code-2197" / "bin" / "claude.exe",
    # the newest, as its native binary (no Node needed); its screens word a few things differently
    "2.1.332": JS / "node_modules" / "@anthropic-ai" / "claude-code-linux-x64" / "claude",
}
CLAUDE = CLAUDES["2.1.197"]


def _namespaces_work() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("tmux"):
        return False
    probe = "mount -t tmpfs none /mnt && umount /mnt"
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", probe], capture_output=True, check=False
    )
    return done.returncode == 0


pytestmark = [
    pytest.mark.skipif(not HAVE_IDP or not CLAUDE.exists(), reason="needs oidc-provider and Claude Code in tests/js"),
    pytest.mark.skipif(not _namespaces_work(), reason="needs root, unshare, tmux and mounts in a namespace"),
    pytest.mark.slow,
]


class Terminal:
    """A tmux server of the test's own, started in a private mount namespace whose /etc carries `managed`."""

    def __init__(self, workdir: Path, managed: dict[str, str], home: Path) -> None:
        self.socket = f"cw-signin-{os.getpid()}"
        for name in ("upper", "work"):
            (workdir / name).mkdir()
        script = workdir / "ns.sh"
        script.write_text(
            "set -e\n"
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={workdir}/upper,workdir={workdir}/work /etc\n"
            "mkdir -p /etc/claude-code\n"
            f"cat > /etc/claude-code/managed-settings.json <<'EOF'\n{json.dumps(managed)}\nEOF\n"
            f"export HOME={home} BROWSER=/bin/true DISABLE_AUTOUPDATER=1\n"
            "unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL ANTHROPIC_AUTH_TOKEN CLAUDE_CONFIG_DIR\n"
            f"cd {home}\n"
            f"exec tmux -L {self.socket} new-session -d -x 200 -y 50 bash --noprofile --norc\n"
        )
        subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", str(script)], check=True, timeout=30)

    def send(self, *keys: str) -> None:
        """Type `keys` (tmux key names or text)."""
        subprocess.run(["tmux", "-L", self.socket, "send-keys", *keys], check=True, timeout=10)

    def screen(self) -> str:
        """What the pane shows now."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p"], capture_output=True, text=True, timeout=10
        )
        return done.stdout

    def wait(self, ready: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
        """Capture the pane every 0.2 s until `ready(screen)` (bounded); the screen."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if ready(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"waited {timeout:g}s for {what}; the screen:\n{screen}")

    def respawn(self) -> None:
        """End what runs in the pane and start a fresh shell there (same namespace, same environment)."""
        command = ["tmux", "-L", self.socket, "respawn-pane", "-k", "bash --noprofile --norc"]
        subprocess.run(command, check=True, timeout=10)

    def press(self, keys: tuple[str, ...], ready: Callable[[str], bool], what: str) -> str:
        """Type `keys` until `ready(screen)`: a screen may show before its key handler is listening (3 tries)."""
        for attempt in range(3):
            self.send(*keys)
            try:
                return self.wait(ready, what, timeout=10.0 if attempt < 2 else 30.0)
            except AssertionError:
                if attempt == 2:
                    raise
        raise AssertionError(what)

    def stop(self) -> None:
        """Kill the tmux server (and Claude Code with it)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, check=False, timeout=10)


def _signed_in(screen: str) -> bool:
    return "· Cloud gateway" in screen and ("? for shortcuts" in screen or "auto mode on" in screen)


def _at_shell(screen: str) -> bool:
    lines = [line for line in screen.splitlines() if line.strip()]
    return bool(lines) and re.fullmatch(r"bash-[\d.]+# ?", lines[-1].rstrip() + " ") is not None


def _exited(screen: str) -> bool:
    return re.search(r"^EXIT=\d+$", screen, re.MULTILINE) is not None


@pytest.fixture
def deployment(tmp_path: Path, sim: SimServer) -> Iterator[Deployment]:
    """The IdP (alice in engineering) and a gateway with sign-in in front of the simulator."""
    d = Deployment(tmp_path, sim, managed={"availableModels": [ALLOWED]}, per_minute=None)
    d.start()  # managed settings that ask no approval; Claude Code's subagents make many requests
    try:
        yield d
    finally:
        d.stop()


@pytest.mark.parametrize("version", sorted(CLAUDES))
def test_claude_code_signs_in_answers_and_is_signed_out_by_the_idp(
    tmp_path: Path, deployment: Deployment, version: str
) -> None:
    """/login → Cloud gateway (URL from managed settings) → trust → code → browser at the IdP → signed in;
    `claude -p` answers through the gateway; the group's managed settings arrive; after the IdP drops the user,
    the next refresh ends the session (the newest Claude Code and 2.1.197)."""
    claude = CLAUDES[version]
    if not claude.exists():
        pytest.skip(f"tests/js/node_modules lacks Claude Code {version}: run ./scripts/test")
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    first_run_done = {"hasCompletedOnboarding": True, "theme": "dark"}
    first_run_done["projects"] = {str(home): {"hasTrustDialogAccepted": True}}  # its workspace trust asked already
    (home / ".claude.json").write_text(json.dumps(first_run_done))
    gateway = deployment.gw.base_url
    term = Terminal(tmp_path, {"forceLoginMethod": "gateway", "forceLoginGatewayUrl": gateway}, home)
    try:
        term.send(f"{claude}", "Enter")
        screen = term.wait(
            lambda s: "Run /login" in s or "Auto mode is now" in s, "Claude Code's prompt, not logged in"
        )
        if "Auto mode is now" in screen:  # the newest announces its default permission mode first
            term.send("Enter")
            time.sleep(1)
        term.send("/login")
        term.send("Enter")
        term.wait(lambda s: "Cloud gateway" in s and gateway in s and "Enter to connect" in s, "the gateway screen")
        term.press(("Enter",), lambda s: "Trust gateway 127.0.0.1?" in s, "the trust prompt")
        term.press(("Up",), lambda s: re.search(r"❯ (1\. )?Yes, trust this gateway", s) is not None, "the trust choice")
        screen = term.press(("Enter",), lambda s: re.search(r"\b[A-Z]{4}-[A-Z]{4}\b", s) is not None, "the user code")
        code = re.search(r"\b([A-Z]{4}-[A-Z]{4})\b", screen)
        assert code is not None and f"{gateway}/device" in screen
        page = browser_sign_in(f"{gateway}/device?user_code={code.group(1)}", gateway, "alice")
        assert page.status_code == 200, page.text
        term.wait(lambda s: "Connected to Cloud gateway" in s, "Claude Code's signed-in screen")
        # Claude Code starts its session again, signed in: its header names the Cloud gateway
        term.press(
            ("Enter",),
            _signed_in,
            "the signed-in session",
        )
        term.respawn()  # a clean shell in the same namespace for `claude -p`
        term.wait(_at_shell, "a shell")

        term.send("clear", "Enter")
        term.send(f'{claude} -p --model {ALLOWED} "say hi"; echo EXIT=$?', "Enter")
        screen = term.wait(_exited, "claude -p through the gateway", timeout=90)
        assert re.search(r"^EXIT=0$", screen, re.MULTILINE) and "claudewire simulator" in screen, screen
        remote = json.loads((home / ".claude" / "remote-settings.json").read_text())
        assert remote["availableModels"] == [ALLOWED]  # the group's managed settings reached Claude Code

        deployment.idp.set_users({})  # the user leaves the company; their token nears its end
        stored = home / ".claude" / ".credentials.json"
        credentials = json.loads(stored.read_text())
        credentials["enterpriseGateway"]["expiresAt"] = int(time.time() * 1000) + 60_000  # refreshed 5 min ahead
        stored.write_text(json.dumps(credentials))
        term.send("clear", "Enter")
        term.send(f'{claude} -p --model {ALLOWED} "say hi"; echo EXIT=$?', "Enter")
        screen = term.wait(_exited, "claude -p after deprovisioning", timeout=90)
        assert re.search(r"^EXIT=1$", screen, re.MULTILINE), screen
        assert "re-authenticate" in screen or "sign in again" in screen, screen  # 2.1.197's words, the newest's
    finally:
        term.stop()
