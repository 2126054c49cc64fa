"""The http check tells an Anthropic API from what else answers: portals' redirects, other APIs, wrong paths."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from claudewire.doctor import Status, run
from claudewire.sim import SimServer
from tests.doctor.conftest import settings_for


class _Answer(BaseHTTPRequestHandler):
    """Answers every request with the server's canned status, headers and body."""

    def do_GET(self) -> None:
        status, headers, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def other_server() -> Iterator[ThreadingHTTPServer]:
    """A plain HTTP server on 127.0.0.1 that is not an Anthropic API; set `.answer` = (status, headers, body)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    server.answer = (200, {}, b"")  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_redirect_to_a_login_page_fails_http(other_server: ThreadingHTTPServer) -> None:
    """A 302 to a login page (a captive portal) fails http, naming where it redirects."""
    other_server.answer = (302, {"Location": "http://login.hotspot.example/portal"}, b"")  # type: ignore[attr-defined]
    report = run(settings_for(_url(other_server)))
    http = report.get("http")
    assert http.status is Status.FAIL
    assert "redirected (302) to http://login.hotspot.example/portal" in http.detail
    assert report.get("auth").evidence["prerequisite"] == "http"


def test_another_api_is_not_taken_for_anthropic(other_server: ThreadingHTTPServer) -> None:
    """An OpenAI-style JSON error is not the Anthropic API's shape: http fails and says what answered."""
    body = {
        "error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}
    }
    other_server.answer = (401, {"Content-Type": "application/json"}, json.dumps(body).encode())  # type: ignore[attr-defined]
    http = run(settings_for(_url(other_server))).get("http")
    assert http.status is Status.FAIL
    assert "401 application/json" in http.detail and "is not the Anthropic API" in http.detail


def test_proxy_error_page_fails_http(other_server: ThreadingHTTPServer) -> None:
    """A proxy's 502 text page is reported as something other than the API answering."""
    other_server.answer = (502, {"Content-Type": "text/plain"}, b"Bad Gateway: upstream unreachable")  # type: ignore[attr-defined]
    http = run(settings_for(_url(other_server))).get("http")
    assert http.status is Status.FAIL
    assert "502 text/plain 'Bad Gateway: upstream unreachable'" in http.detail


def test_base_url_with_v1_is_named_as_the_problem(sim: SimServer) -> None:
    """A base URL ending in /v1: config warns, and the model check blames the base URL rather than the model."""
    report = run(settings_for(sim.base_url + "/v1"))
    assert report.get("config").status is Status.WARN
    model = report.get("model")
    assert model.status is Status.FAIL
    assert "not the API root" in model.detail
