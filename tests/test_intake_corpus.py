"""Every real mail of the corpus goes through the whole intake pipeline without an exception: people's mail is
registered and answered, automatic mail is recorded and left alone, unreadable mail is kept with a reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import CORPUS, require_corpus

from daemon import intake, models
from daemon.app import App
from daemon.config import load_config

RAW_FOLDERS = ("lkml-erofs-zh", "imap_tools", "spamscope-mail-parser", "php-mime-mail-parser", "talon")


def _raw_mails() -> list[Path]:
    files = []
    for folder in RAW_FOLDERS:
        files += sorted(p for p in (CORPUS / folder).rglob("*") if p.is_file() and p.suffix in (".eml", ".txt", ""))
    return files


@pytest.fixture
def app(tmp_path, monkeypatch):
    require_corpus()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    cfg_path = tmp_path / "officeflow.toml"
    cfg_path.write_text(textwrap.dedent(f"""
        [office]
        name = "集团公司办公室"
        address = "office@example.test"
        staff = ["clerk@example.test"]
        head = "director@example.test"
        accept_from = "anyone"
        [imap]
        host = "127.0.0.1"
        username = "office@example.test"
        password_env = "OFFICEFLOW_TEST_PASSWORD"
        [smtp]
        host = "127.0.0.1"
        [database]
        url = "sqlite:///{tmp_path}/db.sqlite"
        [archive]
        path = "{tmp_path}/archive"
        [reminders]
        digest_at = "23:00"
        [[routes]]
        steps = "办公室主任"
        """), encoding="utf-8")
    cfg = load_config(cfg_path)
    models.connect(cfg.database.url)
    yield App(cfg)
    models.close()


@pytest.mark.slow          # 1,170 mails through the whole pipeline into the database
def test_every_corpus_mail_goes_through_intake(app):
    files = _raw_mails()
    assert len(files) > 600
    outcomes = {intake.PROCESSED: 0, intake.FAILED: 0}
    for path in files:
        outcomes[intake.handle(app, path.read_bytes())] += 1
    M = models.Mail
    crashed = [m.action for m in M.select().where((M.direction == "in") & M.action.startswith("处理出错"))]
    assert crashed == []
    failed = list(M.select().where((M.direction == "in") & (M.kind == "failed")))
    assert len(failed) == outcomes[intake.FAILED]
    assert all(m.action.startswith("无法解析") for m in failed)
    assert outcomes[intake.FAILED] <= 10
    registered = models.Request.select().count()
    automatic = M.select().where((M.direction == "in") & (M.kind == "auto")).count()
    # mailing-list mail counts as automatic mail (SPEC §3), so most of the list archive is recorded, not answered
    assert registered > 100 and automatic > 300
    # every incoming mail is on record, with what it did or why it was ignored
    incoming = M.select().where(M.direction == "in")
    assert all(m.action for m in incoming)
    # the archive holds every raw mail untouched
    for m in incoming.where(M.kind != "failed").limit(50):
        assert (app.archive_root() / m.archive).is_file()
