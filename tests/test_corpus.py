"""Every real mail of the shared corpus decodes, and the fixtures with known splits are cut as expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from daemon.mime import MailParseError, parse
from daemon.replies import Verb, cut_text, new_text, read_reply

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared mail corpus is not beside the repository")

# Folders of raw RFC 822 mail (the others hold bare bodies, which are not mails).
RAW_FOLDERS = ("lkml-erofs-zh", "imap_tools", "spamscope-mail-parser", "php-mime-mail-parser")
# Quote formats we claim, with the email_reply_trimmer fixture that shows each (English and Chinese clients).
TRIMMER_CLAIMED = [
    "block_code_spacers", "dual_embedded", "email_headers_1", "email_headers_2", "email_headers_3", "email_headers_5",
    "embedded_ception", "embedded_email_1", "embedded_email_2", "embedded_email_3", "embedded_email_4",
    "embedded_email_6", "embedded_email_8", "embedded_email_9", "embedded_email_10", "embedded_email_12",
    "embedded_email_14", "embedded_email_15", "embedded_email_18", "embedded_email_19", "embedded_email_chinese",
    "forwarded_apple", "forwarded_gmail", "normalize_line_endings", "retains_spaces_and_formatting",
    "spam_1", "spam_2", "strip", "text_only", "usenet",
]


def _all_files() -> list[Path]:
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "SOURCES.md")


@pytest.fixture(scope="module")
def parsed(corpus_parsed) -> dict[Path, object]:
    assert set(corpus_parsed) == set(_all_files())
    return corpus_parsed


@pytest.fixture(scope="module")
def chinese(corpus_parsed) -> dict[Path, object]:
    """The Chinese developers' mails of lkml-erofs-zh, parsed."""
    return {p: m for p, m in corpus_parsed.items() if p.parent == CORPUS / "lkml-erofs-zh" and p.suffix == ".eml"}


def test_every_corpus_file_parses_or_is_refused_with_a_reason(parsed):
    refused, count = [], 0
    for path, mail in parsed.items():
        if isinstance(mail, MailParseError):
            assert str(mail), path
            refused.append((path.relative_to(CORPUS).parts[0], path.name, str(mail)))
            continue
        read_reply(mail)  # must not raise either
        count += 1
    raw_refused = [r for r in refused if r[0] in RAW_FOLDERS]
    assert count > 700
    # only the Outlook .msg (a compound file, not RFC 822) among the raw mails
    assert [(f, n) for f, n, _ in raw_refused] == [("spamscope-mail-parser", "mail_outlook_1")], raw_refused


def test_chinese_mails_decode_without_replacement_characters(chinese):
    damaged = []
    for path, mail in chinese.items():
        if "\ufffd" in mail.subject + mail.from_name + mail.text[:4000] and b"\xef\xbf\xbd" not in path.read_bytes():
            damaged.append(path.name)
    assert chinese and not damaged


def test_chinese_client_quotes_never_remain_in_new_text(chinese):
    leaked = []
    pattern = re.compile(r"写道\s*[:：]?\s*$|原始邮件|回复的原邮件|^\s*>|^\s*(发件人|发送时间)\s*[:：]", re.M)
    for path, mail in chinese.items():
        if mail.in_reply_to and pattern.search(new_text(mail)):
            leaked.append(path.name)
    assert not leaked


def test_no_corpus_mail_reads_as_a_chinese_approval_by_accident(chinese):
    # developer mail: none of it is an approval in Chinese; bounces (邮件被退回) are not returns either
    for path, mail in chinese.items():
        reply = read_reply(mail)
        assert reply.verb is not Verb.RETURN, path.name
        if reply.verb in (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS):
            assert reply.matched.isascii(), (path.name, reply.matched)


@pytest.mark.parametrize("name", TRIMMER_CLAIMED)
def test_email_reply_trimmer_split(name):
    base = CORPUS / "email_reply_trimmer" / "test"
    body = (base / "emails" / f"{name}.txt").read_text(encoding="utf-8")
    expected = (base / "trimmed" / f"{name}.txt").read_text(encoding="utf-8")
    assert cut_text(body).strip() == expected.strip()


@pytest.mark.parametrize("name", sorted(p.stem for p in (CORPUS / "talon/tests/fixtures/standard_replies").glob("*.eml"))
                         if CORPUS.is_dir() else [])
def test_talon_standard_replies(name):
    # talon keeps "Sent from my iPhone"; we drop mobile signatures on purpose, so every reply is just "Hello"
    raw = (CORPUS / "talon/tests/fixtures/standard_replies" / f"{name}.eml").read_bytes()
    assert new_text(parse(raw)) == "Hello"
