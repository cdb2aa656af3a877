"""Shared pytest fixtures: the real mail servers on loopback, and a whole office on them."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lanes  # noqa: E402
from mailservers import MailServers, dovecot_binary  # noqa: E402
from pgserver import PgServer, pg_bindir  # noqa: E402


def _require_dovecot() -> None:
    """Skip only off CI when Dovecot is missing; on CI that is a failure."""
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed, but CI is set: install dovecot-imapd dovecot-lmtpd")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd); "
                    "scripts/test.sh installs it")


@pytest.fixture(scope="session")
def mailservers():
    """One private Dovecot + SMTP relay for the whole session (skipped only off CI without Dovecot)."""
    _require_dovecot()
    servers = MailServers().start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def pgserver():
    """One private PostgreSQL cluster on 127.0.0.1 for the session; skipped only off CI without the binaries."""
    missing = None
    if pg_bindir() is None:
        missing = "PostgreSQL server binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)"
    else:
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            missing = "psycopg2 is not installed (pip install -e '.[postgres]')"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}, but CI is set")
        pytest.skip(missing)
    server = PgServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A CA made for this run (its PEM file for ca_file), a stranger CA, and server certificates:
    good (127.0.0.1), for another name (mail.example.test only), expired (127.0.0.1), from the stranger."""
    from types import SimpleNamespace

    from certs import CA
    d = tmp_path_factory.mktemp("pki")
    ca, stranger = CA(d), CA(d, "stranger")
    return SimpleNamespace(ca=ca.pem, stranger_ca=stranger.pem,
                           good=ca.issue("good", ["127.0.0.1"]),
                           other_name=ca.issue("other-name", ["mail.example.test"]),
                           expired=ca.issue("expired", ["127.0.0.1"], expired=True),
                           stranger=stranger.issue("stranger", ["127.0.0.1"]))


@pytest.fixture(scope="session")
def tls_servers(pki):
    """Started on first use, one per certificate: tls_servers("good") is a TLS-only Dovecot + relay
    (IMAP STARTTLS and implicit TLS, SMTP STARTTLS and implicit TLS) with the good certificate."""
    started: dict[str, MailServers] = {}

    def get(label: str = "good") -> MailServers:
        _require_dovecot()
        if label not in started:
            started[label] = MailServers(tls=getattr(pki, label.replace("-", "_")), ca=pki.ca).start()
        return started[label]

    try:
        yield get
    finally:
        for servers in started.values():
            servers.stop()


@pytest.fixture
def maildomain(mailservers):
    """A fresh domain such as t7.example.test, so each test starts with empty mailboxes."""
    return mailservers.new_domain()


@pytest.fixture
def office(mailservers, maildomain, tmp_path, monkeypatch):
    """An office (config, mailboxes, SQLite) on the mail servers, at a Thursday 09:00 in office hours."""
    from flow import Office

    from daemon import models
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    yield Office(mailservers, maildomain, tmp_path)
    models.close()


CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def require_corpus() -> None:
    """Skip where the shared mail corpus is not beside the repository; on CI, where it always is, fail."""
    if not CORPUS.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the shared mail corpus is missing at {CORPUS}, but CI is set")
        pytest.skip("the shared mail corpus is not beside the repository")


@pytest.fixture(scope="session")
def corpus_parsed() -> dict:
    """Every file of the shared mail corpus parsed once for the session: path → its Mail, or the
    MailParseError that refused it (skipped where the corpus is not beside the repository)."""
    from daemon.mime import MailParseError, parse
    require_corpus()
    out = {}
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md"):
        try:
            out[path] = parse(path.read_bytes())
        except MailParseError as exc:
            out[path] = exc
    return out


SERVER_FIXTURES = {"mailservers", "pgserver", "tls_servers"}
SLOW_FIXTURES = {"soffice"}
FAST_LANE = "not mailserver and not slow"


def pytest_addoption(parser):
    parser.addoption("--fast", action="store_true",
                     help=f"the fast lane: only tests that are '{FAST_LANE}', property tests with a tenth of "
                          "their examples (the full suite runs everything)")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """The fast lane runs on every core when pytest-xdist is installed (the test extra has it); `-n 0` runs
    it in one process, and `-n N` is taken as given."""
    if (config.getoption("fast") and config.pluginmanager.hasplugin("xdist")
            and "PYTEST_XDIST_WORKER" not in os.environ      # a worker runs its share, it starts no workers
            and config.option.numprocesses is None and not config.getoption("usepdb", False)):
        config.option.numprocesses = "auto"


def pytest_configure(config):
    if config.getoption("fast"):
        lanes.FAST = True
        given = config.option.markexpr
        config.option.markexpr = f"({given}) and {FAST_LANE}" if given else FAST_LANE


@pytest.fixture(scope="session")
def soffice():
    """LibreOffice's soffice, for the tests that convert documents with it (skipped only off CI without it)."""
    from daemon import doctext
    binary = doctext.soffice_path()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("LibreOffice is not installed, but CI is set: install libreoffice-writer-nogui")
        pytest.skip("LibreOffice (soffice) is not installed; .doc/.wps fall back to a note")
    return binary


def pytest_collection_modifyitems(config, items):
    """Every test that starts or uses a real server is a `mailserver` test, and every test that starts
    LibreOffice a `slow` one, marked or not.

    So `pytest --fast` is the fast lane of pure tests, whatever a new test forgets to say. The sandbox
    tests start their own mail server; they are marked in their modules.
    """
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SERVER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.mailserver)
        if SLOW_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
