"""daemon.models: rows written with an INSERT or UPDATE text made once (SQLite) read back exactly as peewee's own
statements write them, and what the kept text cannot be sure of goes through peewee."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from daemon import models
from daemon.models import Mail, Request

AT = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def db(tmp_path):
    models.connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield models
    models.close()


def _request(seq: int) -> Request:
    return Request.create(number=f"办请〔2026〕{seq}号", year=2026, seq=seq, state="reviewing", unit_name="第一分公司",
                          sender="unit1@example.test", title="关于购置办公设备的请示", message_id=f"<r{seq}@x>",
                          received_at=AT, updated_at=AT, state_since=AT, code=f"C{seq}",
                          findings=[{"rule": "title", "message": "标题"}])


def test_rows_written_with_the_kept_text_read_back_as_written(db):
    rows = [Mail.create(direction="out", message_id=f"m{i}", request=_request(i), kind="receipt", at=AT,
                        rcpts=["unit1@example.test", "办公室"], subject=f"回执{i}", ignored=bool(i % 2))
            for i in range(1, 4)]
    assert any(key[0] is Mail for key, sql in models._INSERTS.items() if sql)
    for m in rows:
        m.action = f"已发送{m.id}"
        m.rcpts = [*m.rcpts, "clerk@example.test"]
        assert m.save() == 1
        assert not m.is_dirty()
    assert any(key[0] is Mail for key, sql in models._UPDATES.items() if sql)
    got = {m.message_id: m for m in Mail.select()}
    for i, m in enumerate(rows, start=1):
        back = got[f"m{i}"]
        assert (back.id, back.request_id, back.at, back.subject, back.ignored, back.action, back.rcpts) == (
            m.id, m.request_id, AT, f"回执{i}", bool(i % 2), f"已发送{m.id}",
            ["unit1@example.test", "办公室", "clerk@example.test"])
    assert Request.get(Request.seq == 2).findings == [{"rule": "title", "message": "标题"}]


def test_a_relation_assigned_before_its_row_was_stored_is_filled_in_by_peewee(db):
    for i in range(2):      # the second save of this shape would use the kept text
        Mail.create(direction="in", message_id=f"x{i}", kind="mail", at=AT).save()
    m = Mail.create(direction="in", message_id="late", kind="mail", at=AT)
    req = Request(number="办请〔2026〕9号", year=2026, seq=9, state="reviewing", unit_name="第一分公司",
                  sender="unit1@example.test", title="t", message_id="<r9@x>", received_at=AT, updated_at=AT,
                  state_since=AT, code="C9")
    m.request = req         # not stored yet: no id
    req.save()
    m.save()
    assert Mail.get(Mail.message_id == "late").request_id == req.id
