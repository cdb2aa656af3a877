"""Shared pytest fixtures: the real mail servers on loopback, and a whole office on them."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mailservers import MailServers, dovecot_binary  # noqa: E402
from pgserver import PgServer, pg_bindir  # noqa: E402


@pytest.fixture(scope="session")
def mailservers():
    """One private Dovecot + SMTP relay for the whole session (skipped only off CI without Dovecot)."""
    if dovecot_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed, but CI is set: install dovecot-imapd dovecot-lmtpd")
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd); "
                    "scripts/test.sh installs it")
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


SERVER_FIXTURES = {"mailservers", "pgserver"}


def pytest_collection_modifyitems(config, items):
    """Every test that starts or uses a real server is a `mailserver` test, marked or not.

    So `pytest -m "not mailserver"` is the fast lane of pure tests, whatever a new test forgets to say.
    The sandbox tests start their own mail server; they are marked in their modules.
    """
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mailserver)
