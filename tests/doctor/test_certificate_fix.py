"""The certificate fix gives commands that work: a bundle built from the system's plus the CA, per client."""

from __future__ import annotations

from claudewire.doctor.certificate import interception_fix, system_bundle
from claudewire.doctor.settings import Profile


def test_the_python_fix_builds_a_bundle_from_the_system_bundle() -> None:
    """For the SDK: the exact `cat <system bundle> ca.pem > ...` and SSL_CERT_FILE, no placeholder bundle path."""
    fix = interception_fix("'Corp Root CA'", Profile.API)
    assert f"cat {system_bundle()} ca.pem > ~/.claudewire-ca-bundle.pem" in fix
    assert "export SSL_CERT_FILE=~/.claudewire-ca-bundle.pem" in fix
    assert "/path/to/bundle.pem" not in fix
    assert fix.index("SSL_CERT_FILE") < fix.index("NODE_EXTRA_CA_CERTS")


def test_the_claude_code_fix_says_node_ignores_ssl_cert_file() -> None:
    """For Claude Code: NODE_EXTRA_CA_CERTS or NODE_USE_SYSTEM_CA=1 first, saying Node ignores SSL_CERT_FILE."""
    fix = interception_fix("'Corp Root CA'", Profile.CLAUDE_CODE)
    assert "Node ignores SSL_CERT_FILE" in fix and "NODE_USE_SYSTEM_CA=1" in fix
    assert fix.index("NODE_EXTRA_CA_CERTS") < fix.index("SSL_CERT_FILE=")


def test_the_fix_says_how_to_export_the_ca_on_macos_and_windows() -> None:
    """Where to get ca.pem: the macOS Keychain command and the Windows certificate manager's export."""
    fix = interception_fix("'Corp Root CA'", Profile.API)
    assert "security find-certificate" in fix and "certmgr.msc" in fix
    assert "which system CA bundle" not in fix
