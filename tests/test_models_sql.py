"""daemon.models: rows written with an INSERT or UPDATE text made once (SQLite) read back exactly as peewee's own
statements write them, and what the kept text cannot be sure of goes through peewee."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


def test_a_save_of_some_columns_writes_those_alone_with_the_kept_text(db):
    rows = [_request(i) for i in range(1, 4)]
    for r in rows:
        r.code = f"N{r.seq}"
        r.title = "改过的标题，未保存"
        assert r.save(only=[Request.code]) == 1
        assert [f.name for f in r.dirty_fields] == ["title"]        # only what was saved is clean
        r.state = "approving"
        assert r.save(only=["state", "code"]) == 1
    assert models._UPDATES[(Request, type(models.db.obj), ("code",))]
    assert models._UPDATES[(Request, type(models.db.obj), ("state", "code"))]
    for r in rows:
        back = Request.get_by_id(r.id)
        assert (back.code, back.state, back.title, back.findings) == (
            f"N{r.seq}", "approving", "关于购置办公设备的请示", [{"rule": "title", "message": "标题"}])
    with pytest.raises(ValueError):
        rows[0].save(only=[Request.id])        # nothing to save, as peewee says


def test_a_statement_runs_with_its_kept_text_and_what_it_cannot_keep_goes_through_peewee(db):
    for i in range(1, 4):
        _request(i)
    since = models.Statement(lambda sender, at: Request.select(models.pw.fn.COUNT(Request.id)).where(
        (Request.sender == sender) & (Request.received_at >= models.pw.Value(at, converter=False))))
    assert since.scalar("unit1@example.test", Request.received_at.db_value(AT)) == 3
    assert since.scalar("unit2@example.test", Request.received_at.db_value(AT)) == 0
    assert since.sql[type(models.db.obj)]
    # a time passed as it is is converted by peewee: its text is not kept, and every call still answers right
    raw = models.Statement(lambda sender, at: Request.select(models.pw.fn.COUNT(Request.id)).where(
        (Request.sender == sender) & (Request.received_at >= at)))
    assert raw.scalar("unit1@example.test", AT) == 3
    assert raw.sql[type(models.db.obj)] is None
    assert raw.scalar("unit1@example.test", AT.replace(year=2027)) == 0
    assert models.Statement(lambda n: Request.select(Request.id).where(Request.seq == n)).scalar(9) is None


@pytest.mark.parametrize("at", [AT, datetime(2026, 3, 1, 7, 5, 9, 12, tzinfo=timezone.utc),
                                datetime(2027, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=8)))])
def test_a_time_is_stored_as_utc_text_in_one_shape(at):
    stored = models.UTCDateTimeField().db_value(at)
    assert stored == at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    assert len(stored) == 32 and models.UTCDateTimeField().python_value(stored) == at
