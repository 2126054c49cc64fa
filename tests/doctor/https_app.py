"""A small HTTPS server on 127.0.0.1 with a trustme certificate, answering what the doctor's ``--url`` checks ask a
gateway (``/cursor/models`` with a bearer token, ``/.well-known/oauth-authorization-server``), and recording what it
was asked."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

Reply = tuple[int, dict[str, str], bytes]
"""Status, headers and body of an answer."""

Handler = Callable[[str, dict[str, str]], Reply]
"""What the server answers for a GET of a path, given the request's headers (lower-case names)."""


def json_reply(status: int, doc: object) -> Reply:
    """A JSON answer."""
    return status, {"content-type": "application/json"}, json.dumps(doc).encode()


def models_handler(token: str, ids: tuple[str, ...] = ("cw-sonnet", "cw-opus")) -> Handler:
    """GET /cursor/models answers an OpenAI model list to ``Authorization: Bearer <token>``, 401 otherwise."""

    def handle(path: str, headers: dict[str, str]) -> Reply:
        if path != "/cursor/models":
            return json_reply(404, {"error": {"message": f"no route {path}", "type": "not_found_error"}})
        if headers.get("authorization") != f"Bearer {token}":
            return json_reply(401, {"error": {"message": "invalid token", "type": "authentication_error"}})
        data = [{"id": i, "object": "model", "created": 0, "owned_by": "claudewire"} for i in ids]
        return json_reply(200, {"object": "list", "data": data})

    return handle


def metadata_handler(*, device: bool = True, public_url: str | None = None) -> Handler:
    """GET /.well-known/oauth-authorization-server answers RFC 8414 metadata as a gateway offering sign-in does
    (same-origin endpoints, or `public_url`'s), without the device endpoint when `device` is False; 404 elsewhere."""

    def handle(path: str, headers: dict[str, str]) -> Reply:
        if path != "/.well-known/oauth-authorization-server":
            return json_reply(404, {"type": "error", "error": {"type": "not_found_error", "message": path}})
        issuer = public_url or f"https://{headers['host']}"
        doc: dict[str, object] = {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth/token",
            "grant_types_supported": ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "response_types_supported": [],
        }
        if device:
            doc["device_authorization_endpoint"] = f"{issuer}/oauth/device_authorization"
        else:
            doc["grant_types_supported"] = []
        return json_reply(200, doc)

    return handle


@dataclass
class HttpsApp:
    """A running server: its port, the CA file that trusts its certificate, the leaf's DER, and what it was asked."""

    port: int
    ca_path: str
    leaf_der: bytes
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str = "", host: str = "127.0.0.1") -> str:
        """``https://host:port`` + `path`."""
        return f"https://{host}:{self.port}{path}"


@contextlib.contextmanager
def serve_https(
    tmp_path: Path, handler: Handler, names: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> Iterator[HttpsApp]:
    """Serve `handler` over TLS on 127.0.0.1:<free port> with a certificate for `names` from a fresh trustme CA."""
    ca = trustme.CA(organization_name="doctor url test CA")
    leaf = ca.issue_cert(*names)
    ca_path = tmp_path / f"url-ca-{id(ca)}.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode())
    app = HttpsApp(0, str(ca_path), der)

    class Handle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            app.requests.append((self.path, headers))
            status, reply_headers, body = handler(self.path, headers)
            self.send_response(status)
            for name, value in {**reply_headers, "content-length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # quiet, like a test server
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    app.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
