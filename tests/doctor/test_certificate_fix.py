"""The certificate fix gives commands that work: a bundle built from the system's plus the CA, per client."""

from __future__ import annotations

from claudewire.doctor.certificate import bundle_command, interception_fix, system_bundle
from claudewire.doctor.chain import SavedChain
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


def test_with_a_saved_chain_the_commands_name_the_file_it_wrote() -> None:
    """--save-ca wrote ca.pem with its root: the fix names the CA to trust and builds the bundle from that file."""
    saved = SavedChain("/tmp/x/ca.pem", ("'Corp Issuing CA'", "'Corp Root CA'"), anchor="'Corp Root CA'")
    fix = interception_fix("'Corp Issuing CA'", Profile.API, saved)
    assert "the CA to trust is 'Corp Root CA'" in fix
    assert (
        f"cat {system_bundle()} /tmp/x/ca.pem > /tmp/x/ca-bundle.pem && export SSL_CERT_FILE=/tmp/x/ca-bundle.pem"
        in fix
    )
    assert "NODE_EXTRA_CA_CERTS=/tmp/x/ca.pem" in fix
    assert bundle_command("/tmp/x/ca.pem") == (
        f"cat {system_bundle()} /tmp/x/ca.pem > /tmp/x/ca-bundle.pem",
        "/tmp/x/ca-bundle.pem",
    )


def test_a_server_that_sent_only_its_leaf_gets_the_export_steps_into_the_chosen_file() -> None:
    """Nothing to write (the leaf alone): the fix says so and how to export the named root into that same file."""
    saved = SavedChain(
        "/tmp/x/ca.pem", missing_root="'Corp Root CA'", error="the server presented only its own certificate"
    )
    fix = interception_fix("'Corp Root CA'", Profile.CLAUDE_CODE, saved)
    assert "--save-ca wrote nothing (the server presented only its own certificate)" in fix
    assert "security find-certificate -a -p -c NAME /Library/Keychains/System.keychain > /tmp/x/ca.pem" in fix
    assert fix.index("NODE_EXTRA_CA_CERTS=/tmp/x/ca.pem") < fix.index("SSL_CERT_FILE=")
