"""Fuzzing intake with hostile mail made by hypothesis: random MIME trees, bad charsets and transfer encodings,
huge and broken headers, control characters, bombs. No exception escapes, nothing is lost: every mail ends
processed or in Failed with a reason, and is on record. (Every mail of the shared corpus goes through intake
in test_intake_corpus.py.)"""

from __future__ import annotations

import base64
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon import intake, models
from daemon.models import Mail
from tests.test_doctext_limits import bomb_docx
from tests.test_intake_edges import BODY, World

pytestmark = pytest.mark.slow          # its mails start reader children and LibreOffice: the full lane only

_serial = itertools.count()
BOMB = bomb_docx(8 * 1024 * 1024)

nasty_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
charsets = st.sampled_from(["utf-8", "gb2312", "gbk", "big5", "iso-2022-jp", "x-unknown", "utf-7", "", "utf-8*zh",
                            '"gb18030"', "ascii"])
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus", ""])
subtypes = st.sampled_from(["mixed", "alternative", "related", "report", "signed", "digest", "bogus"])


@st.composite
def payload(draw) -> bytes:
    kind = draw(st.sampled_from(["text", "bytes", "request", "bomb", "control"]))
    if kind == "text":
        return draw(nasty_text).encode(draw(st.sampled_from(["utf-8", "gb18030", "utf-16"])), "replace")
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "request":
        return BODY.encode("gb18030")
    if kind == "control":
        return bytes(range(32)) * draw(st.integers(1, 20))
    return BOMB


@st.composite
def leaf(draw) -> str:
    ctype = draw(st.sampled_from(["text/plain", "text/html", "application/octet-stream", "message/rfc822",
                                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document"]))
    data = draw(payload())
    cte = draw(encodings)
    name = draw(st.sampled_from(["", "关于购置办公设备的请示.docx", "请示\x01.pdf", "=?utf-8?b?6K+356S6?=.doc",
                                 "a" * 3000 + ".txt", "清单.xlsx"]))
    head = f"Content-Type: {ctype}; charset={draw(charsets)}"
    if name:
        head += f'\r\nContent-Disposition: attachment; filename="{name}"'
    if cte:
        head += f"\r\nContent-Transfer-Encoding: {cte}"
    body = base64.encodebytes(data).decode() if cte == "base64" or data is BOMB else data.decode("latin-1")
    return head + "\r\n\r\n" + body


def tree(depth: int = 0):
    if depth >= 3:
        return leaf()
    return st.one_of(leaf(), st.builds(lambda sub, kids, broken: _multipart(sub, kids, broken, depth), subtypes,
                                       st.lists(st.deferred(lambda: tree(depth + 1)), max_size=3), st.booleans()))


def _multipart(sub: str, kids: list[str], broken: bool, depth: int) -> str:
    b = f"b{depth}x{next(_serial)}"
    parts = "".join(f"--{b}\r\n{k}\r\n" for k in kids)
    return f'Content-Type: multipart/{sub}; boundary="{b}"\r\n\r\n{parts}' + ("" if broken else f"--{b}--\r\n")


@st.composite
def hostile_mail(draw) -> bytes:
    subject = draw(st.one_of(nasty_text, st.just("关于购置办公设备的请示"),
                             st.integers(1000, 200_000).map(lambda n: "长" * n)))
    headers = [("From", draw(st.sampled_from(["unit1@t.test", "第一分公司 <unit1@t.test>", "", "<>", "x" * 2000,
                                              "clerk@t.test", "wang@t.test", "=?bogus?q?=FF?= <unit1@t.test>"]))),
               ("To", "office@t.test"),
               ("Subject", "=?utf-8?b?" + base64.b64encode(subject.encode()).decode() + "?="),
               ("Message-ID", draw(st.sampled_from([f"<fuzz{next(_serial)}@t.test>", "", "<" + "m" * 5000 + ">"])))]
    if draw(st.booleans()):
        n = draw(st.integers(1, 20_000))
        headers.append(("References", "\r\n ".join(f"<r{i}@spam.test>" for i in range(n))))
    if draw(st.booleans()):
        headers.append(("In-Reply-To", draw(nasty_text).replace("\r", " ").replace("\n", " ")))
    if draw(st.booleans()):
        headers.append(("X-Junk", "\x00\x01\x7f" + "x" * draw(st.integers(0, 50_000))))
    if draw(st.booleans()):
        depth = draw(st.integers(30, 120))
        body = "".join(f'Content-Type: multipart/mixed; boundary="d{i}"\r\n\r\n--d{i}\r\n' for i in range(depth))
        body += "Content-Type: text/plain\r\n\r\nhello\r\n"
    else:
        body = draw(tree())
    head = "".join(f"{k}: {v}\r\n" for k, v in headers) + "MIME-Version: 1.0\r\n"
    return (head + body).encode("utf-8", "surrogateescape")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    mp.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    w = World(tmp_path_factory.mktemp("fuzz"))
    yield w
    models.close()
    mp.undo()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                   HealthCheck.function_scoped_fixture])
@given(raw=hostile_mail())
def test_hostile_mail_is_processed_or_failed_with_a_reason_and_never_lost(world, raw):
    before = Mail.select().where(Mail.direction == "in").count()
    outcome = intake.handle(world.app, raw)
    assert outcome in (intake.PROCESSED, intake.FAILED)
    incoming = Mail.select().where(Mail.direction == "in")
    newest = incoming.order_by(Mail.id.desc()).first()
    if outcome == intake.FAILED:
        assert newest.kind == "failed" and newest.action
    elif incoming.count() == before:
        pass        # the same Message-ID was seen before: recorded then
    else:
        assert newest.action, newest.kind
    assert list((world.cfg.archive.path / ".attempts").glob("*")) == []     # no marker left behind
