"""`officeflow prune` (SPEC §4): stored copies of sent mail of closed requests go; the record stays."""

from __future__ import annotations

import re

import pytest
from flow import GOOD_BODY, docx_bytes, message

from daemon import models

pytestmark = pytest.mark.mailserver


def _number(subject: str) -> str:
    return re.search(r"【(.+?)】", subject).group(1)


def _stored(db, number: str) -> int:
    req = db.Request.get(db.Request.number == number)
    return db.Outbox.select().join(db.Mail).where(db.Mail.request == req).count()


def test_prune_removes_sent_mail_of_closed_requests_only_and_keeps_the_record(office):
    office.send_request(subject="关于购置饮水机的请示", body=GOOD_BODY.replace("办公设备", "饮水机"), attachments=[])
    office.send_request(subject="关于购置办公设备的请示")
    office.run_once()
    closed = _number(office.last("unit1", "饮水机").subject)
    still_open = _number(office.last("unit1", "办公设备").subject)
    office.reply("unit1", office.last("unit1", closed), "撤回")
    office.run_once()

    db = office.db()
    assert db.Request.get(db.Request.number == closed).state == "withdrawn"
    lines_before = db.Mail.select().count()
    kept_open = _stored(db, still_open)
    assert _stored(db, closed) >= 3 and kept_open >= 2
    models.close()

    cfg = str(office.config_path)
    dry = office.run_cli("prune", "-c", cfg, "--before", "2026-11-27")
    assert dry.returncode == 0, dry.stderr
    assert "would remove" in dry.stdout and "of 1 requests" in dry.stdout and "--yes" in dry.stdout
    assert _stored(office.db(), closed) >= 3, "a dry run removes nothing"
    models.close()

    earlier = office.run_cli("prune", "-c", cfg, "--before", "2026-11-26", "--yes")
    assert earlier.returncode == 0 and "0 stored copies" in earlier.stdout
    done = office.run_cli("prune", "-c", cfg, "--before", "2026-11-27", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("removed ")

    db = office.db()
    assert _stored(db, closed) == 0
    assert _stored(db, still_open) == kept_open
    assert db.Mail.select().count() == lines_before, "every 收发记录 line stays"
    models.close()
    shown = office.run_cli("show", "-c", cfg, closed)
    assert shown.returncode == 0 and "撤回" in shown.stdout and "收发记录" in shown.stdout


# -- sent mail stored once: what goes out and what show --eml gives are the same bytes -------------------------

ROUTE = "受理\n拟办意见：拟同意。\n流程：财务科+审计科，李副总\n执行：综合科\n抄送：行政科"


def _eml_out(office, number: str, folder) -> list[bytes]:
    done = office.run_cli("show", "-c", str(office.config_path), number, "--eml", str(folder))
    assert done.returncode == 0, done.stderr
    return [p.read_bytes() for p in sorted(folder.glob("*-发-*.eml"))]


def _as_received(office, eml: bytes) -> bytes:
    """The raw mail a recipient of this stored mail got (its servers put their own headers on top)."""
    msg = message(eml)
    rcpt = (msg["To"] or msg["Cc"]).addresses[0].addr_spec
    found = [raw for raw in office.servers.messages(rcpt) if msg["Message-ID"].encode() in raw]
    assert len(found) == 1, (rcpt, msg["Message-ID"])
    return found[0]


def _at(monkeypatch, moment: str) -> None:
    monkeypatch.setenv("OFFICEFLOW_NOW", moment)


def test_attachments_go_out_whole_and_show_eml_gives_the_bytes_sent_before_and_after_packing(office, monkeypatch,
                                                                                                tmp_path):
    listing = docx_bytes(["办公设备购置清单", "台式计算机 10台 6万元"])
    quote = bytes(range(256)) * 200
    office.send_request(attachments=[("办公设备购置清单.docx", listing), ("报价单.pdf", quote)])
    office.run_once()
    number = _number(office.last("unit1").subject)
    office.reply("clerk", office.last("clerk", number), ROUTE)
    office.run_once()
    for who in ("caiwu", "shenji", "li"):
        mail = office.last(who, number)
        files = {a.filename: a.data for a in mail.attachments}
        assert files["办公设备购置清单.docx"] == listing and files["报价单.pdf"] == quote
        office.reply(who, mail, "同意。")
        office.run_once()
    for who in ("zonghe", "xingzheng"):
        files = {a.filename: a.data for a in office.last(who, number).attachments}
        assert files["办公设备购置清单.docx"] == listing and files["报价单.pdf"] == quote
        assert any(name.endswith(".docx") and name != "办公设备购置清单.docx" for name in files), "the form"
    office.reply("zonghe", office.last("zonghe", number), "办结：已采购到位。")
    office.run_once()

    db = office.db()
    assert db.Request.get(db.Request.number == number).state == "done"
    attachments = {p.blob_id for p in db.OutboxPart.select()}
    assert len(attachments) == 3, "the two originals and the form, each stored once"
    assert db.Pack.select().count() == 0
    models.close()
    sent = _eml_out(office, number, tmp_path / "before")
    assert len(sent) >= 9
    for eml in sent:
        assert _as_received(office, eml).endswith(eml)

    _at(monkeypatch, "2026-11-27T09:00:00+08:00")       # the next day the daemon packs the closed request
    office.run_once()
    db = office.db()
    assert db.Pack.select().count() == 1 and db.PackedRow.select().count() == len(sent)
    models.close()
    assert _eml_out(office, number, tmp_path / "after") == sent


def test_prune_keeps_an_attachment_another_stored_mail_still_carries(office):
    listing = docx_bytes(["办公设备购置清单", "台式计算机 10台 6万元"])
    for thing in ("饮水机", "办公设备"):
        office.send_request(subject=f"关于购置{thing}的请示", body=GOOD_BODY.replace("办公设备", thing),
                            attachments=[("清单.docx", listing)])
    office.run_once()
    closed = _number(office.last("unit1", "饮水机").subject)
    still_open = _number(office.last("unit1", "办公设备").subject)
    office.reply("unit1", office.last("unit1", closed), "撤回")
    office.run_once()
    db = office.db()
    assert len({p.blob_id for p in db.OutboxPart.select()}) == 1, "one attachment for both requests"
    blobs = db.Blob.select().count()
    models.close()

    done = office.run_cli("prune", "-c", str(office.config_path), "--before", "2026-11-27", "--apply")
    assert done.returncode == 0 and "and 0 attachments" in done.stdout, done.stdout + done.stderr
    db = office.db()
    assert _stored(db, closed) == 0 and db.Blob.select().count() == blobs
    models.close()
    review = [m for m in (message(e) for e in _eml_out(office, still_open, office.tmp / "eml")) if "审核" in m["Subject"]]
    assert [a.get_content() for a in review[0].iter_attachments()] == [listing]

    office.reply("unit1", office.last("unit1", still_open), "撤回")
    office.run_once()
    done = office.run_cli("prune", "-c", str(office.config_path), "--before", "2026-11-27", "--apply")
    assert done.returncode == 0 and "and 1 attachments" in done.stdout, done.stdout
    db = office.db()
    assert db.Blob.select().count() == 0 and db.BlobChunk.select().count() == 0
    assert db.Outbox.select().where(db.Outbox.state == "sent").count() == 0
    models.close()


def test_keep_sets_what_prune_removes_and_the_daemon_prunes_once_a_day(office, monkeypatch):
    cfg = str(office.config_path)
    bare = office.run_cli("prune", "-c", cfg)
    assert bare.returncode == 2 and "--before" in bare.stderr and "keep" in bare.stderr

    text = office.config_path.read_text(encoding="utf-8")
    office.config_path.write_text(text.replace('/archive"\n', '/archive"\nkeep = "30d"\n', 1), encoding="utf-8")
    office.send_request(attachments=[("清单.docx", docx_bytes(["清单"]))])
    office.run_once()
    number = _number(office.last("unit1").subject)
    office.reply("unit1", office.last("unit1", number), "撤回")
    office.run_once()
    dry = office.run_cli("prune", "-c", cfg)
    assert dry.returncode == 0 and "closed before 2026-10-27" in dry.stdout and "would remove 0" in dry.stdout

    _at(monkeypatch, "2026-12-10T09:00:00+08:00")
    office.run_once()
    db = office.db()
    assert _stored(db, number) >= 3, "kept for 30 days"
    assert db.Pack.select().count() == 1, "but packed"
    models.close()
    _at(monkeypatch, "2026-12-27T09:00:00+08:00")
    dry = office.run_cli("prune", "-c", cfg)
    assert re.match(r"would remove [1-9]\d* stored copies of sent mail and 1 attachments \(.*\) of 1 requests closed "
                    r"before 2026-11-27;", dry.stdout), dry.stdout
    office.run_once()
    db = office.db()
    assert _stored(db, number) == 0 and db.Pack.select().count() == 0 and db.Blob.select().count() == 0
    assert {j.name for j in db.Job.select().where(db.Job.name.startswith("prune-"))} == {
        "prune-2026-11-26", "prune-2026-12-10", "prune-2026-12-27"}
    assert db.Mail.select().where(db.Mail.request == db.Request.get(db.Request.number == number)).count() >= 4
    models.close()
