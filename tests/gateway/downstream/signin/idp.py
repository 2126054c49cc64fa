"""A real OpenID Connect provider (tests/js/oidc_idp.mjs: oidc-provider) for the sign-in tests, and a gateway whose
port is known before it starts (the IdP must know the gateway's callback URL, the gateway the IdP's issuer)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx2

from claudewire.gateway import Gateway, GatewayConfig
from claudewire.gateway.server import bind, new_event_loop, serve
from claudewire.sim import SimServer
from claudewire.testing import FastClock
from tests.conftest import SIM_KEY

JS = Path(__file__).resolve().parents[3] / "js"
HAVE_IDP = shutil.which("node") is not None and (JS / "node_modules" / "oidc-provider").is_dir()
CLIENT_ID, CLIENT_SECRET = "claudewire", "idp-client-secret-for-tests"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ALLOWED, OTHER = "claude-haiku-4-5", "claude-sonnet-4-5"
USERS = {"alice": {"email": "alice@corp.example", "groups": ["staff", "engineering"]}}
MANAGED = {"permissions": {"deny": ["Bash(curl:*)"]}, "availableModels": [ALLOWED]}


class OidcProvider:
    """`node oidc_idp.mjs` on 127.0.0.1 and a free port; `users` (rewritten in place) are its accounts."""

    def __init__(self, workdir: Path, redirect_uri: str, users: dict[str, dict[str, Any]]) -> None:
        self.users_file = workdir / "idp-users.json"
        self.set_users(users)
        env = {**os.environ, "PORT": "0", "USERS_FILE": str(self.users_file), "CLIENT_ID": CLIENT_ID}
        env |= {"CLIENT_SECRET": CLIENT_SECRET, "REDIRECT_URI": redirect_uri}
        self.proc = subprocess.Popen(
            ["node", str(JS / "oidc_idp.mjs")],
            cwd=JS,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(
                f"oidc-provider did not start: {line}{self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        self.issuer = line.split()[1]

    def set_users(self, users: dict[str, dict[str, Any]]) -> None:
        """Replace the IdP's accounts (removing one is deprovisioning it)."""
        self.users_file.write_text(json.dumps(users))

    def stop(self) -> None:
        """Stop the node process."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class GatewayOnPort:
    """A gateway in a thread on a socket bound before it starts (its port known to the IdP's client registration)."""

    def __init__(self) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def start(self, config: GatewayConfig) -> GatewayOnPort:
        """Serve `config` (its port is this socket's); returns once listening."""

        def ready(gateway: Gateway, _port: int) -> None:
            self.gateway = gateway
            self._ready.set()

        def main() -> None:
            loop = self._loop = new_event_loop()
            self._stop = asyncio.Event()
            try:
                loop.run_until_complete(
                    serve(
                        config.replace(port=self.port), sock=self.sock, ready=ready, stop=self._stop, clock=FastClock()
                    )
                )
            except BaseException as exc:
                self._error = exc
                self._ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        assert self._ready.wait(15), "the gateway did not start"
        if self._error is not None:
            raise RuntimeError(f"the gateway failed to start: {self._error}") from self._error
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)


def browser_sign_in(verification_uri_complete: str, public_url: str, login: str) -> httpx2.Response:
    """What a person does in the browser: confirm the code, log in at the IdP, consent; the gateway's final page."""
    with httpx2.Client(timeout=15.0) as browser:
        page = browser.get(verification_uri_complete)
        assert page.status_code == 200, page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        code = re.search(r'name="user_code" value="([^"]*)"', page.text)
        assert csrf is not None and code is not None
        sent = browser.post(
            public_url + "/device",
            data={"csrf": csrf.group(1), "user_code": code.group(1)},
            headers={"origin": public_url},
        )
        assert sent.status_code == 302, sent.text
        login_page = browser.get(sent.headers["location"], follow_redirects=True)
        action = re.search(r'<form[^>]*action="([^"]+)"', login_page.text)
        assert action is not None, login_page.text
        consent = browser.post(
            urljoin(str(login_page.url), action.group(1)),
            data={"prompt": "login", "login": login, "password": "any"},
            follow_redirects=True,
        )
        action = re.search(r'<form[^>]*action="([^"]+)"', consent.text)
        assert action is not None and 'value="consent"' in consent.text, consent.text
        return browser.post(
            urljoin(str(consent.url), action.group(1)), data={"prompt": "consent"}, follow_redirects=True
        )


class Deployment:
    """An IdP and a gateway in front of the simulator, set up for each other."""

    def __init__(
        self,
        tmp_path: Path,
        sim: SimServer,
        managed: dict[str, Any] | None = None,
        per_minute: int | None = 5,
        **state: Any,
    ) -> None:
        """`managed`: the engineering group's managed settings (default `MANAGED`), `per_minute` its requests a
        minute per user (None: unlimited); `state`: [proxy] settings."""
        self.gw = GatewayOnPort()
        self.idp = OidcProvider(tmp_path, self.gw.base_url + "/oauth/callback", dict(USERS))
        settings_file = tmp_path / "engineering.json"
        settings_file.write_text(json.dumps(MANAGED if managed is None else managed))
        data = {
            "proxy": {"upstream": sim.base_url, "upstream_key": SIM_KEY, "access_log": "", **state},
            "signin": {
                "oidc_issuer": self.idp.issuer,
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": CLIENT_SECRET,
                "session_ttl": 900,
            },
            "groups": [
                {
                    "name": "engineering",
                    "models": [ALLOWED],
                    **({"requests_per_minute": per_minute} if per_minute is not None else {}),
                    "managed_settings": f"file:{settings_file}",
                },
                {"name": "contractors", "models": [ALLOWED]},
            ],
        }
        try:
            self.config = GatewayConfig.from_mapping(data)
        except BaseException:
            self.idp.stop()  # the node process must not outlive a test that failed to set up
            raise
        self.http = httpx2.Client(base_url=self.gw.base_url, timeout=15.0)

    def start(self) -> Deployment:
        self.gw.start(self.config)
        return self

    def stop(self) -> None:
        self.http.close()
        self.gw.stop()
        self.idp.stop()

    def device(self) -> dict[str, Any]:
        resp = self.http.post("/oauth/device_authorization")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    def poll(self, device_code: str) -> httpx2.Response:
        return self.http.post("/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code})

    def refresh(self, refresh_token: str) -> httpx2.Response:
        return self.http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token})
