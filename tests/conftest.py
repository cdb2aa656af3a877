"""Shared pytest fixtures: the real mail servers on loopback; nothing else lives here."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mailservers import MailServers, dovecot_binary  # noqa: E402


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


@pytest.fixture
def maildomain(mailservers):
    """A fresh domain such as t7.example.test, so each test starts with empty mailboxes."""
    return mailservers.new_domain()
