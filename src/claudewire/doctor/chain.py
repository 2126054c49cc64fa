"""The whole certificate chain a server presents, and ``doctor --save-ca PATH``, which writes its CA part as PEM.

Python 3.11's ssl module hands back only the leaf of a handshake it did not verify, which names the CA of an
intercepting proxy but cannot save it. The chain is read on a connection of its own, over the same route as the
other checks (through the proxy's CONNECT tunnel, or to the address the tcp check reached), that carries nothing and
is closed right after the handshake:

- with pyOpenSSL (the ``tls`` extra, imported only here and only when asked), whose ``get_peer_cert_chain`` returns
  what the server sent, driven over memory BIOs on the asyncio stream;
- without it, with ``openssl s_client -showcerts``, whose output holds the same certificates as PEM.

Reading a certificate trusts nothing; the user decides whether the CA this writes is their organisation's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from claudewire._net import origin
from claudewire.doctor.net import Stream, Target, is_ip, open_route
from claudewire.doctor.result import JSONValue
from claudewire.doctor.settings import Settings

__all__ = [
    "PresentedChain",
    "SavedChain",
    "name_label",
    "presented_chain",
    "read_chain_pyopenssl",
    "read_chain_s_client",
    "save_chain",
    "save_presented_chain",
]

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)
_MAX_HANDSHAKE = 256 * 1024  # a certificate chain is a few kB; a server sending more is not shaking hands


@dataclass(frozen=True, slots=True)
class PresentedChain:
    """The certificates a server sent in its handshake, leaf first (DER), and what read them."""

    certs: tuple[bytes, ...]
    reader: str


@dataclass(frozen=True, slots=True)
class SavedChain:
    """What ``--save-ca`` did: the file, the certificates written (labels), the CA to trust, what is missing.

    `anchor` is the root the server presented (self-signed): the CA to trust. When the server sent no root,
    `missing_root` names the CA its top certificate is issued by, which the user has to get elsewhere. `error`
    says why nothing was written.
    """

    path: str
    written: tuple[str, ...] = ()
    anchor: str | None = None
    missing_root: str | None = None
    reader: str | None = None
    error: str | None = None

    def evidence(self) -> dict[str, JSONValue]:
        """JSON-ready facts."""
        return {
            "path": self.path,
            "written": list(self.written),
            "ca_to_trust": self.anchor,
            "root_not_presented": self.missing_root,
            "read_by": self.reader,
            "error": self.error,
        }


def name_label(name: x509.Name) -> str:
    """``'CN' (O=org)`` as the report names a certificate's subject or issuer."""

    def attr(oid: x509.ObjectIdentifier) -> str | None:
        values = name.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    cn, org = attr(NameOID.COMMON_NAME), attr(NameOID.ORGANIZATION_NAME)
    main = cn or org or name.rfc4514_string()
    return f"'{main}'" + (f" (O={org})" if org and org != main else "")


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


async def _pump(stream: Stream, outgoing: bytes, budget: list[int]) -> bytes:
    reader, writer = stream
    if outgoing:
        writer.write(outgoing)
        await writer.drain()
    data = await reader.read(65536)
    if not data:
        raise ConnectionError("the server closed the connection during the TLS handshake")
    budget[0] -= len(data)
    if budget[0] < 0:
        raise ConnectionError("the server sent more than a TLS handshake")
    return data


async def read_chain_pyopenssl(stream: Stream, server_hostname: str, seconds: float) -> tuple[bytes, ...]:
    """Shake hands on `stream` with pyOpenSSL (no verification, nothing sent after) and return the presented chain.

    Raises ImportError when pyOpenSSL is not installed, `OpenSSL.SSL.Error` or OSError when the handshake fails.
    """
    from OpenSSL import SSL

    ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
    ctx.set_verify(SSL.VERIFY_NONE)  # only to read what the server presents; the connection carries nothing
    ctx.set_alpn_protos([b"h2", b"http/1.1"])
    conn = SSL.Connection(ctx, None)
    if not is_ip(server_hostname):
        conn.set_tlsext_host_name(server_hostname.encode("idna"))
    conn.set_connect_state()
    budget = [_MAX_HANDSHAKE]
    try:
        async with asyncio.timeout(seconds):
            while True:
                try:
                    conn.do_handshake()
                    break
                except SSL.WantReadError:
                    pass
                outgoing = []
                with contextlib.suppress(SSL.WantReadError):  # raised once everything pending is read
                    while chunk := conn.bio_read(65536):
                        outgoing.append(chunk)
                conn.bio_write(await _pump(stream, b"".join(outgoing), budget))
        chain = conn.get_peer_cert_chain(as_cryptography=True) or []
    finally:
        stream[1].close()
    return tuple(cert.public_bytes(Encoding.DER) for cert in chain)


async def read_chain_s_client(
    target: Target, proxy_url: str | None, address: str | None, seconds: float
) -> tuple[bytes, ...]:
    """The presented chain as ``openssl s_client -showcerts`` reads it (through `proxy_url` when set).

    Raises FileNotFoundError when there is no ``openssl`` binary, OSError when it shows no certificate.
    """
    binary = shutil.which("openssl")
    if binary is None:
        raise FileNotFoundError("no openssl binary on PATH")
    host = target.host.strip("[]")
    connect = address if address and not proxy_url else host
    connect = f"[{connect}]" if ":" in connect else connect
    args = [binary, "s_client", "-showcerts", "-connect", f"{connect}:{target.port}"]
    args += ["-noservername"] if is_ip(host) else ["-servername", host]
    env = dict(os.environ)
    if proxy_url:
        proxy = origin(proxy_url, schemes=("http", "https", "socks4", "socks5", "socks5h"), assume="http")
        args += ["-proxy", proxy.address]
        if proxy.username is not None:
            # the password goes through the environment, never the command line (ps shows that)
            env["CLAUDEWIRE_PROXY_PASS"] = proxy.password or ""
            args += ["-proxy_user", proxy.username, "-proxy_pass", "env:CLAUDEWIRE_PROXY_PASS"]
    proc = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(seconds):
            out, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    certs = tuple(x509.load_pem_x509_certificate(block).public_bytes(Encoding.DER) for block in _PEM.findall(out))
    if not certs:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        raise ConnectionError(f"openssl s_client showed no certificate: {last[0]}")
    return certs


async def presented_chain(settings: Settings, target: Target, address: str | None) -> PresentedChain:
    """The chain `target` presents on the route the checks use: pyOpenSSL when installed, else openssl s_client."""
    try:
        import OpenSSL  # noqa: F401
    except ImportError:
        certs = await read_chain_s_client(target, settings.proxy.url, address, settings.timeout)
        return PresentedChain(certs, "openssl s_client")
    stream = await open_route(target, settings.proxy.url, address, settings.timeout)
    certs = await read_chain_pyopenssl(stream, target.host.strip("[]"), settings.timeout)
    return PresentedChain(certs, "pyOpenSSL")


def save_chain(chain: PresentedChain, path: str) -> SavedChain:
    """Write the CA part of `chain` to `path` as PEM: the intermediates and the root it presented, in that order.

    A chain of a self-signed leaf alone is its own CA and is written as is. A leaf alone issued by another CA gives
    nothing to write: the result names that CA as missing and `path` is left untouched.
    """
    path = os.path.abspath(path)
    certs: list[x509.Certificate] = []
    for der in chain.certs:
        cert = x509.load_der_x509_certificate(der)
        if cert not in certs:
            certs.append(cert)
    if not certs:
        return SavedChain(path, reader=chain.reader, error="the server presented no certificate")
    cas = certs[1:] or ([certs[0]] if _self_signed(certs[0]) else [])
    top = cas[-1] if cas else certs[0]
    anchor = name_label(top.subject) if _self_signed(top) else None
    missing = None if anchor else name_label(top.issuer)
    if not cas:
        error = f"the server presented only its own certificate, not the CA {missing} that issued it"
        return SavedChain(path, missing_root=missing, reader=chain.reader, error=error)
    pem = b"".join(cert.public_bytes(Encoding.PEM) for cert in cas)
    with open(path, "wb") as out:
        out.write(pem)
    written = tuple(name_label(cert.subject) for cert in cas)
    return SavedChain(path, written, anchor, missing, chain.reader)


async def save_presented_chain(settings: Settings, target: Target, address: str | None, path: str) -> SavedChain:
    """Read the chain `target` presents and write its CA part to `path`; a failure is reported, never raised."""
    try:
        chain = await presented_chain(settings, target, address)
    except Exception as exc:  # any failure to read the chain is a fact for the report, not a crash of the run
        return SavedChain(path, error=f"could not read the chain: {type(exc).__name__}: {exc}")
    try:
        return save_chain(chain, path)
    except (OSError, ValueError) as exc:
        return SavedChain(path, reader=chain.reader, error=f"could not write {path}: {exc}")
