"""[imap] and [smtp] transport keys: clear text only on loopback unless written, ca_file checked at start."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from daemon import config as C
from daemon.tls import explain, is_loopback

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "officeflow.example.toml"


@pytest.fixture(autouse=True)
def passwords(monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_IMAP_PASSWORD", "imap-secret")
    monkeypatch.setenv("OFFICEFLOW_SMTP_PASSWORD", "smtp-secret")


def _config(tmp_path: Path, section: str, lines: dict[str, str]) -> Path:
    """The example with `lines` (key -> TOML value) replacing or added to [section]."""
    out, current = [], ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("["):
            current = line.split("]")[0].strip("[")
            if current == section:
                out.append(line)
                out += [f"{k} = {v}" for k, v in lines.items()]
                continue
        key = line.split("=")[0].strip()
        if current == section and key in lines:
            continue
        out.append(line)
    path = tmp_path / "officeflow.toml"
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("LOCALHOST", True), ("mail.localhost", True), ("localhost.", True),
    ("10.0.0.1", False), ("128.0.0.1", False), ("::2", False), ("mail.example.test", False),
    ("localhost.example.test", False), ("mylocalhost", False), ("", False), ("0.0.0.0", False),
])
def test_loopback_is_only_this_machine(host, loopback):
    assert is_loopback(host) is loopback


@pytest.mark.parametrize("section", ["imap", "smtp"])
def test_clear_text_beyond_loopback_is_refused_naming_the_key(tmp_path, section):
    path = _config(tmp_path, section, {"host": '"mail.example.test"', "security": '"none"'})
    with pytest.raises(C.ConfigError) as err:
        C.load_config(path)
    assert err.value.key == f"{section}.security" and err.value.path == str(path)
    assert "loopback" in err.value.problem and "allow_plaintext = true" in err.value.problem


@pytest.mark.parametrize("section", ["imap", "smtp"])
def test_clear_text_beyond_loopback_when_allow_plaintext_is_written(tmp_path, section):
    path = _config(tmp_path, section, {"host": '"mail.example.test"', "security": '"none"',
                                       "allow_plaintext": "true"})
    part = getattr(C.load_config(path), section)
    assert part.security == "none" and part.allow_plaintext is True


@pytest.mark.parametrize("host", ['"127.0.0.1"', '"localhost"', '"::1"'])
def test_clear_text_on_loopback_needs_nothing_more(tmp_path, host):
    cfg = C.load_config(_config(tmp_path, "imap", {"host": host, "security": '"none"'}))
    assert cfg.imap.security == "none" and cfg.imap.allow_plaintext is False


def test_ca_file_is_read_relative_to_the_config(tmp_path):
    from certs import CA
    ca = CA(tmp_path, "private")
    cfg = C.load_config(_config(tmp_path, "smtp", {"ca_file": f'"{ca.pem.name}"'}))
    assert cfg.smtp.ca_file == str(ca.pem) and cfg.imap.ca_file == ""


@pytest.mark.parametrize("content, problem", [(None, "cannot read"), ("not a certificate\n", "no PEM certificate")])
@pytest.mark.parametrize("section", ["imap", "smtp"])
def test_a_bad_ca_file_is_refused_naming_the_key(tmp_path, section, content, problem):
    if content is not None:
        (tmp_path / "ca.pem").write_text(content)
    path = _config(tmp_path, section, {"ca_file": '"ca.pem"'})
    with pytest.raises(C.ConfigError) as err:
        C.load_config(path)
    assert err.value.key == f"{section}.ca_file" and problem in err.value.problem
    assert str(tmp_path / "ca.pem") in err.value.problem


def _verify_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: " + message)
    exc.verify_code, exc.verify_message = code, message
    return exc


@pytest.mark.parametrize("code, message, words", [
    (10, "certificate has expired", "the certificate has expired (the server's certificate must be renewed)"),
    (9, "certificate is not yet valid", "not valid yet (check the clock"),
    (20, "unable to get local issuer certificate", "issued by a CA that is not trusted (give that CA in ca_file)"),
    (19, "self-signed certificate in certificate chain", "ends in a CA that is not trusted"),
    (18, "self-signed certificate", "self-signed and not trusted"),
    (62, "Hostname mismatch, certificate is not valid for 'x'.", "not issued for this host name"),
    (64, "IP address mismatch, certificate is not valid for '127.0.0.1'.", "not issued for this IP address"),
    (23, "certificate revoked", "the certificate could not be verified"),
])
def test_a_failed_certificate_check_is_said_plainly(code, message, words):
    text = explain(_verify_error(code, message), "IMAP server mail.example.test:993")
    assert text.startswith("IMAP server mail.example.test:993: certificate rejected: ")
    assert words in text and message in text


def test_a_certificate_failure_is_found_behind_a_wrapping_error():
    try:
        try:
            raise _verify_error(10, "certificate has expired")
        except ssl.SSLError as inner:
            raise ConnectionError("SMTP connect failed") from inner
    except ConnectionError as outer:
        assert "has expired" in explain(outer, "SMTP server x:465")
    assert explain(ConnectionRefusedError(111, "refused"), "SMTP server x:465") is None
    assert explain(ssl.SSLError(1, "wrong version number"), "SMTP server x:465") is None
