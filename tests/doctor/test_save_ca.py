"""`doctor --save-ca PATH`: the chain a server presents, written as PEM, and a printed bundle command that works.

The servers are real: a TLS server on 127.0.0.1 presenting a trustme chain (root → intermediate → leaf), and
mitmproxy intercepting the simulator's TLS.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from claudewire.doctor import Profile, Status, render_text, run
from claudewire.doctor.certificate import system_bundle
from claudewire.doctor.chain import read_chain_pyopenssl, read_chain_s_client
from claudewire.doctor.net import Target, connect
from claudewire.doctor.settings import ProxyChoice
from claudewire.sim import SimServer
from tests.doctor.conftest import mitmdump, serve_tls, settings_for

pytestmark = pytest.mark.timeout(90)


class Chain:
    """A trustme root → intermediate → leaf (for 127.0.0.1), as DER and PEM."""

    def __init__(self) -> None:
        self.root = trustme.CA(organization_name="save-ca test root")
        self.intermediate = self.root.create_child_ca()
        self.leaf = self.intermediate.issue_cert("127.0.0.1")

    def der(self, ca: trustme.CA) -> bytes:
        return x509.load_pem_x509_certificate(ca.cert_pem.bytes()).public_bytes(Encoding.DER)


@pytest.fixture
def chain_server(tmp_path: Path) -> Iterator[Callable[[Chain, bool], int]]:
    """Start TLS servers on 127.0.0.1 presenting a chain's leaf and intermediate, and the root when asked."""
    stops: list[Callable[[], None]] = []

    def start(chain: Chain, send_root: bool) -> int:
        pems = [blob.bytes() for blob in chain.leaf.cert_chain_pems]  # leaf, intermediate
        if send_root:
            pems.append(chain.root.cert_pem.bytes())
        chain_file = tmp_path / f"server-chain-{len(stops)}.pem"
        chain_file.write_bytes(b"".join(pems))
        key_file = tmp_path / f"server-key-{len(stops)}.pem"
        key_file.write_bytes(chain.leaf.private_key_pem.bytes())
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(chain_file), str(key_file))
        return serve_tls(ctx, stops)

    yield start
    for halt in stops:
        halt()


def _pem_ders(path: Path) -> list[bytes]:
    return [cert.public_bytes(Encoding.DER) for cert in x509.load_pem_x509_certificates(path.read_bytes())]


def _verifies(cafile: str, port: int) -> bool:
    """Whether a default verifying context with `cafile` completes a handshake with 127.0.0.1:`port`."""
    ctx = ssl.create_default_context(cafile=cafile)
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except ssl.SSLCertVerificationError:
        return False


def test_save_ca_writes_the_intermediate_and_root_and_the_printed_bundle_verifies(
    chain_server: Callable[[Chain, bool], int], tmp_path: Path
) -> None:
    """The file holds the intermediate and root the server sent; the fix's `cat` command builds a bundle that works."""
    chain = Chain()
    port = chain_server(chain, True)
    path = tmp_path / "ca.pem"
    report = run(settings_for(f"https://127.0.0.1:{port}", save_ca=str(path)))
    cert = report.get("certificate")
    assert cert.status is Status.FAIL and "intercepts TLS" in cert.detail
    assert _pem_ders(path) == [chain.der(chain.intermediate), chain.der(chain.root)]
    saved = cert.evidence["saved_ca"]
    assert isinstance(saved, dict)
    assert saved["ca_to_trust"] == "'save-ca test root'" and saved["root_not_presented"] is None
    fix = cert.fix or ""
    assert "the CA to trust is 'save-ca test root'" in fix
    command, bundle = str(saved["bundle_command"]), str(saved["bundle"])
    assert f"{command} && export SSL_CERT_FILE={bundle}" in fix
    assert f"NODE_EXTRA_CA_CERTS={path}" in fix
    assert not _verifies(system_bundle(), port)
    subprocess.run(command, shell=True, check=True)
    assert _verifies(bundle, port)
    for forbidden in ("verify=False", "NODE_TLS_REJECT_UNAUTHORIZED", "--insecure"):
        assert forbidden not in render_text(report)


def test_without_the_root_the_file_holds_the_intermediate_and_the_fix_names_the_missing_root(
    chain_server: Callable[[Chain, bool], int], tmp_path: Path
) -> None:
    """A server that sends no root: the intermediate is written and the fix says which root to add, and how."""
    chain = Chain()
    port = chain_server(chain, False)
    path = tmp_path / "ca.pem"
    report = run(settings_for(f"https://127.0.0.1:{port}", save_ca=str(path), profile=Profile.CLAUDE_CODE))
    cert = report.get("certificate")
    assert _pem_ders(path) == [chain.der(chain.intermediate)]
    saved = cert.evidence["saved_ca"]
    assert isinstance(saved, dict)
    assert saved["ca_to_trust"] is None and saved["root_not_presented"] == "'save-ca test root'"
    fix = cert.fix or ""
    assert "not the root 'save-ca test root'" in fix and f"cat root.pem >> {path}" in fix
    assert fix.index("NODE_EXTRA_CA_CERTS") < fix.index("SSL_CERT_FILE=")  # Claude Code: Node's variable first


def test_a_trusted_chain_is_saved_too_and_the_detail_names_the_file(
    chain_server: Callable[[Chain, bool], int], tmp_path: Path
) -> None:
    """With the root trusted the certificate passes, and --save-ca still writes the chain and says where."""
    chain = Chain()
    port = chain_server(chain, True)
    root = tmp_path / "root.pem"
    chain.root.cert_pem.write_to_path(str(root))
    path = tmp_path / "saved.pem"
    report = run(settings_for(f"https://127.0.0.1:{port}", ca_file=str(root), save_ca=str(path)))
    cert = report.get("certificate")
    assert cert.status is Status.PASS
    assert cert.detail.endswith(f"; chain saved to {path}")
    assert _pem_ders(path) == [chain.der(chain.intermediate), chain.der(chain.root)]


def test_pyopenssl_and_s_client_read_the_same_presented_chain(chain_server: Callable[[Chain, bool], int]) -> None:
    """Both readers (pyOpenSSL, and openssl s_client when it is absent) return leaf, intermediate, root as sent."""
    chain = Chain()
    port = chain_server(chain, True)
    target = Target("https", "127.0.0.1", port)

    async def both() -> tuple[tuple[bytes, ...], tuple[bytes, ...]]:
        by_library = await read_chain_pyopenssl(await connect("127.0.0.1", port, 5), "127.0.0.1", 5)
        by_binary = await read_chain_s_client(target, None, None, 5)
        return by_library, by_binary

    by_library, by_binary = asyncio.run(both())
    leaf = x509.load_pem_x509_certificate(chain.leaf.cert_chain_pems[0].bytes()).public_bytes(Encoding.DER)
    expected = (leaf, chain.der(chain.intermediate), chain.der(chain.root))
    assert by_library == expected
    assert by_binary == expected


def test_behind_mitmproxy_which_sends_only_its_leaf_the_fix_names_the_root_and_its_commands_work(
    tls_sim: SimServer, tmp_path: Path
) -> None:
    """mitmproxy presents the leaf it forged and not its CA: --save-ca writes nothing and says to export the
    'mitmproxy' root into PATH; once it is there, the bundle the printed command builds gets the doctor through."""
    path = tmp_path / "ca.pem"
    with mitmdump(tmp_path) as mitm:
        proxy = ProxyChoice(mitm.url, "HTTPS_PROXY")
        first = run(settings_for(tls_sim.base_url, ca_file=tls_sim.ca_path, proxy=proxy, save_ca=str(path)))
        cert = first.get("certificate")
        assert cert.status is Status.FAIL and "'mitmproxy'" in cert.detail
        assert not path.exists()
        saved = cert.evidence["saved_ca"]
        assert isinstance(saved, dict)
        assert saved["root_not_presented"] == "'mitmproxy'" and saved["written"] == []
        fix = cert.fix or ""
        assert "--save-ca wrote nothing (the server presented only its own certificate" in fix
        assert f"save the 'mitmproxy' root CA as {path}" in fix
        command = str(saved["bundle_command"])
        assert command in fix
        # what the user does next: export the CA (here from mitmproxy's confdir), then run the printed command
        mitm_ca = x509.load_pem_x509_certificate(Path(mitm.ca_path).read_bytes())
        path.write_bytes(mitm_ca.public_bytes(Encoding.PEM))
        subprocess.run(command, shell=True, check=True)
        second = run(settings_for(tls_sim.base_url, ca_file=str(saved["bundle"]), proxy=proxy, spend=False))
    assert second.get("certificate").status is Status.PASS
    assert second.get("http").status is Status.PASS
