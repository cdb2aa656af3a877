"""Schema versions (SPEC §4): a database of the first release is upgraded in place and its requests live on.

The fixtures keep what the first release wrote: on SQLite a whole database with a request in every state,
on PostgreSQL its DDL. An upgraded database must have exactly the schema of a new one, so a column added
to a model without a migration step fails here, not at an office.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import uuid
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import peewee as pw
import pytest
from flow import Office, crlf

from daemon import migrations, models

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RELEASE1_DOMAIN = "release1.example.test"
RELEASE1_STATES = {1: "reviewing", 2: "returned", 3: "approving", 4: "approving", 5: "approved", 6: "done",
                   7: "rejected", 8: "withdrawn"}


def _load_release1(path: Path, domain: str = RELEASE1_DOMAIN) -> None:
    sql = (FIXTURES / "release1.sqlite.sql").read_text(encoding="utf-8").replace(RELEASE1_DOMAIN, domain)
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.close()


def _schema(path: Path) -> dict[str, object]:
    """Tables with their columns (name, type, not null) and the index definitions of an SQLite file."""
    con = sqlite3.connect(path)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        shape: dict[str, object] = {t: sorted((c[1], c[2].upper(), c[3]) for c in con.execute(f'PRAGMA table_info("{t}")'))
                                    for t in tables}
        shape["indexes"] = sorted(re.sub(r"\s+", " ", r[0]) for r in
                                  con.execute("SELECT sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"))
        return shape
    finally:
        con.close()


def _connect(path: Path) -> pw.Database:
    return models.connect(f"sqlite:///{path}")


def test_a_new_database_gets_the_current_version(tmp_path):
    _connect(tmp_path / "new.db")
    try:
        assert migrations.stored_version(models.db.obj) == migrations.VERSION
    finally:
        models.close()


def test_the_first_release_is_upgraded_in_place_to_the_schema_of_a_new_database(tmp_path, caplog):
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    _load_release1(old)
    assert migrations.stored_version(pw.SqliteDatabase(old)) == migrations.FIRST_RELEASE
    caplog.set_level(logging.INFO, logger="officeflow.db")
    _connect(old)
    try:
        assert migrations.stored_version(models.db.obj) == migrations.VERSION
        states = {r.seq: r.state for r in models.Request.select()}
        assert states == RELEASE1_STATES
        assert models.Step.select().count() >= 6 and models.Mail.select().count() > 40
    finally:
        models.close()
    assert any("upgrading the database schema from version 1" in r.message and "backup" in r.message
               for r in caplog.records)
    _connect(new)
    models.close()
    assert _schema(old) == _schema(new)


def _as_older(path: Path, version: int, statements: list[str]) -> None:
    """A new database made one of `version` by `statements` (undoing what the steps after it change)."""
    _connect(path)
    try:
        for statement in statements:
            models.db.obj.execute_sql(statement)
        models.db.obj.execute_sql(f'UPDATE "schema_version" SET "version" = {version}')
    finally:
        models.close()


def _upgraded_as_new(old: Path, new: Path, sql: str, params: tuple, index: str) -> None:
    """`old` opened by this release: of the current version, `sql` planned through `index`, a new one's schema."""
    _connect(old)
    try:
        assert migrations.stored_version(models.db.obj) == migrations.VERSION
        plan = models.db.obj.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        assert index in str(plan)
    finally:
        models.close()
    _connect(new)
    models.close()
    assert _schema(old) == _schema(new)


def test_a_database_of_schema_6_gets_the_indexes_of_mail_by_code_and_by_time(tmp_path):
    """Schema 7 only adds two indexes of mail: a database of schema 6 is one of this release without them."""
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    _as_older(old, 6, ['DROP INDEX "mail_direction_code"', 'DROP INDEX "mail_direction_at"'])
    assert not [i for i in _schema(old)["indexes"] if "mail_direction_code" in i or "mail_direction_at" in i]
    _upgraded_as_new(old, new, 'SELECT "id" FROM "mail" WHERE "direction" = ? AND "code" = ?', ("out", "7F3A"),
                     "mail_direction_code")


SCHEMA_8_INDEXES = {"mail_at": '"mail" ("at")', "outbox_state": '"outbox" ("state")',
                    "outbox_next_attempt_at": '"outbox" ("next_attempt_at")', "step_request_id": '"step" ("request_id")',
                    "signercode_step_id": '"signercode" ("step_id")', "round_request_id": '"round" ("request_id")'}


def test_a_database_of_schema_8_loses_the_indexes_others_stand_in_for_and_gets_the_one_of_unsent_mail(tmp_path):
    """Schema 9 changes indexes only: a database of schema 8 is one of this release with the old ones."""
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    _as_older(old, 8, ['DROP INDEX "outbox_unsent"',
                       *(f'CREATE INDEX "{name}" ON {on}' for name, on in SCHEMA_8_INDEXES.items())])
    assert len([i for i in _schema(old)["indexes"] if any(f'"{name}"' in i for name in SCHEMA_8_INDEXES)]) == 6
    _upgraded_as_new(old, new, 'SELECT "id" FROM "outbox" WHERE "state" = ? AND "next_attempt_at" <= ?',
                     ("queued", "2026-11-26"), "outbox_unsent")
    assert not [i for i in _schema(old)["indexes"] if any(f'"{name}"' in i for name in SCHEMA_8_INDEXES)]


def test_a_current_database_is_opened_without_any_schema_statement(tmp_path, caplog):
    path = tmp_path / "db.sqlite"
    _connect(path)
    models.close()
    caplog.set_level(logging.DEBUG, logger="peewee")
    _connect(path)
    try:
        statements = [str(r.args or r.msg) for r in caplog.records if r.name == "peewee"]
        assert statements, "peewee logs its statements at DEBUG"
        assert not [s for s in statements if re.search(r"\b(CREATE|ALTER|DROP)\b", s)], statements
    finally:
        models.close()


def test_a_database_of_a_newer_release_is_refused(tmp_path):
    path = tmp_path / "db.sqlite"
    _connect(path)
    models.db.obj.execute_sql(f'UPDATE "schema_version" SET "version" = {migrations.VERSION + 1}')
    models.close()
    with pytest.raises(migrations.SchemaError, match=r"newer officeflow"):
        _connect(path)
    models.close()


@pytest.mark.mailserver
def test_the_cli_names_a_newer_database_and_exits_2(office):
    office.run_once()
    db = office.db()
    db.db.obj.execute_sql(f'UPDATE "schema_version" SET "version" = {migrations.VERSION + 7}')
    models.close()
    done = office.run_cli("list", "-c", str(office.config_path))
    assert done.returncode == 2
    assert f"schema version {migrations.VERSION + 7}" in done.stderr and "newer officeflow" in done.stderr
    ran = office.run_cli("run", "--once", "-c", str(office.config_path))
    assert ran.returncode == 2 and "newer officeflow" in ran.stderr


def test_a_failed_upgrade_changes_nothing(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    _load_release1(path)
    before = _schema(path)

    def broken(database, migrator, models_):
        database.execute_sql('CREATE TABLE "half_done" ("x" INTEGER)')
        raise pw.OperationalError("disk I/O error")

    monkeypatch.setitem(migrations.STEPS, migrations.VERSION, broken)
    with pytest.raises(migrations.SchemaError, match="nothing was changed"):
        _connect(path)
    models.close()
    assert _schema(path) == before
    assert migrations.stored_version(pw.SqliteDatabase(path)) == migrations.FIRST_RELEASE


# -- the requests of the first release live on, through real mail ------------------------------------------

def _fresh_mail(office: Office, who: str, subject: str, body: str) -> None:
    """A mail written anew (no In-Reply-To), as from a phone or a button, that counts by the code in its subject."""
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg.set_content(body, charset="utf-8")
    office.servers.send(crlf(msg), [office.addr["office"]], office.addr[who])


@pytest.mark.mailserver
def test_requests_of_the_first_release_carry_on_after_the_upgrade(office):
    _load_release1(office.tmp / "officeflow.db", office.domain)
    db = office.db()
    reviewing = db.Request.get(db.Request.seq == 1)
    half_signed = db.Step.get((db.Step.request == 3) & (db.Step.state == models.ACTIVE))
    assert half_signed.kind == "all" and len(half_signed.signed) == 1
    unsigned = next(a for a in half_signed.approvers if a not in half_signed.signed)
    approved = db.Request.get(db.Request.seq == 5)
    models.close()

    _fresh_mail(office, "clerk", f"【{reviewing.number}】请审核拟办 〔流转码：{reviewing.code}〕",
                "受理\n拟办意见：拟同意，请李副总审批。\n流程：李副总\n执行：综合科")
    who = next(k for k, v in office.addr.items() if v == unsigned)
    _fresh_mail(office, who, f"【办请〔2026〕3号】请审批 〔流转码：{half_signed.code}〕", "同意。")
    _fresh_mail(office, "zonghe", f"【{approved.number}】执行 〔流转码：{approved.done_code}〕", "办结：已采购到位。")
    office.send_request(subject="关于购置档案柜的请示", attachments=[])
    office.run_once()

    db = office.db()
    try:
        states = {r.seq: r.state for r in db.Request.select()}
        assert states[1] == "approving" and states[5] == "done" and states[9] == "reviewing"
        assert db.Step.get(db.Step.id == half_signed.id).state == models.APPROVED_STEP
        assert db.Request.get(db.Request.seq == 9).number == "办请〔2026〕9号"
    finally:
        models.close()
    assert office.last("li", reviewing.number)
    assert office.last("li", "办请〔2026〕3号")
    assert office.last("unit1", "办请〔2026〕9号")


# -- PostgreSQL ------------------------------------------------------------------------------------------------

@pytest.mark.mailserver
def test_the_first_release_on_postgresql_is_upgraded_and_works(office, pgserver):
    from test_postgres import _use_postgres
    url = pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}")
    raw = models.PostgresDatabase(**_pg_params(url))
    raw.connect()
    ddl = (FIXTURES / "release1.postgres.sql").read_text(encoding="utf-8")
    for statement in (s.strip() for s in ddl.split(";")):
        if statement and not statement.startswith("--"):
            raw.execute_sql(statement)
    assert migrations.stored_version(raw) == migrations.FIRST_RELEASE
    raw.close()
    _use_postgres(office, url)

    office.send_request(attachments=[])
    office.run_once()
    db = office.db()
    try:
        assert migrations.stored_version(db.db.obj) == migrations.VERSION
        assert db.Request.get().state == "reviewing"
        tables = set(db.db.obj.get_tables())
        assert {m._meta.table_name for m in models.MODELS} <= tables
    finally:
        models.close()
    assert office.last("unit1", "办请〔2026〕1号")



def _pg_params(url: str) -> dict:
    from playhouse.db_url import parse
    return parse(url, unquote_password=True, unquote_user=True)


@pytest.mark.mailserver
def test_stored_mail_of_the_first_release_sends_shows_and_packs_after_the_upgrade(office, monkeypatch, tmp_path):
    """Outbox rows of the first release hold whole messages: queued again they go out as they are, show --eml
    gives them back, and the daily packing of closed requests keeps them byte for byte."""
    from daemon import mailstore
    path = office.tmp / "officeflow.db"
    _load_release1(path, office.domain)
    con = sqlite3.connect(path)
    box_id, rcpts = con.execute('SELECT o."id", o."rcpts" FROM "outbox" o JOIN "mail" m ON o."mail_id" = m."id" JOIN '
                                '"request" r ON m."request_id" = r."id" WHERE r."state" = \'done\' ORDER BY o."id" '
                                'DESC').fetchone()
    msg = EmailMessage()            # how the first release wrote its mail
    msg["From"], msg["To"], msg["Subject"] = office.addr["office"], ", ".join(json.loads(rcpts)), "【办请〔2026〕6号】结果"
    msg["Message-ID"] = make_msgid(domain=office.domain)
    msg.set_content("办请〔2026〕6号已办结。")
    msg.add_attachment(bytes(range(256)) * 40, maintype="application", subtype="pdf", filename="审批单.pdf")
    whole = crlf(msg)
    con.execute('UPDATE "outbox" SET "data" = ? WHERE "id" = ?', (whole, box_id))
    con.commit()
    con.close()
    db = office.db()
    row = db.Outbox.get_by_id(box_id)
    number = row.mail.request.number
    assert bytes(row.data) == whole and mailstore.message(row) == whole
    db.Outbox.update(state="queued", next_attempt_at=row.mail.at).where(db.Outbox.id == row.id).execute()
    models.close()

    office.run_once()
    rcpt = row.rcpts[0]
    assert [raw for raw in office.servers.messages(rcpt) if raw.endswith(whole)]

    def shown(folder: str) -> dict[str, bytes]:
        done = office.run_cli("show", "-c", str(office.config_path), number, "--eml", str(tmp_path / folder))
        assert done.returncode == 0, done.stderr
        return {p.name: p.read_bytes() for p in (tmp_path / folder).glob("*-发-*.eml")}

    before = shown("before")
    assert whole in before.values()
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-27T09:00:00+08:00")
    office.run_once()
    db = office.db()
    assert db.PackedRow.select().where(db.PackedRow.outbox == row.id).exists()
    models.close()
    assert shown("after") == before


def test_a_database_of_schema_7_keeps_its_stored_forms_and_goes_on_storing_them(tmp_path):
    """Schema 7 kept what is left of a zip attachment without its members in its blob; 8 keeps it in each row.
    An upgraded database rebuilds the rows of both, which refer to the same blob."""
    import hashlib
    from datetime import datetime, timezone

    from test_mailstore import DOCX, HEADERS, HTML, TEXT, _zip

    from daemon import compose, mailstore
    from daemon.outbox import Attach
    form = Attach("审批单.docx", DOCX, _zip("办请〔2026〕9号"))
    now = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
    path = tmp_path / "db.sqlite"
    _connect(path)
    try:
        skeleton, holes = compose.compose_split(HEADERS, TEXT, HTML, [form])
        expected = compose.assemble(skeleton, [(h.offset, h.data) for h in holes])
        stripped, chunks = mailstore._cut(form.data, mailstore.zip_members(form.data))
        blob = models.Blob.create(sha256=hashlib.sha256(form.data).hexdigest(), size=len(form.data), data=stripped)
        for position, chunk in chunks:
            piece = models.Blob.create(sha256=hashlib.sha256(chunk).hexdigest(), size=len(chunk), data=chunk)
            models.BlobChunk.create(blob=blob, position=position, chunk=piece)
        mail = models.Mail.create(direction="out", message_id="old@example.test", kind="approval", at=now)
        texts = [(h.offset, h.data) for h in holes if h.index is None]
        old = models.Outbox.create(mail=mail, mail_from="office@example.test", rcpts=["li@example.test"],
                                   next_attempt_at=now, data=mailstore.MAGIC + mailstore.zlib.compress(
                                       mailstore._serial(skeleton, texts)))
        models.OutboxPart.create(outbox=old, position=[h.offset for h in holes if h.index == 0][0], blob=blob)
        models.db.obj.execute_sql('UPDATE "schema_version" SET "version" = 7')
    finally:
        models.close()
    assert migrations.stored_version(pw.SqliteDatabase(path)) == 7
    _connect(path)
    try:
        assert migrations.stored_version(models.db.obj) == migrations.VERSION
        assert mailstore.message(models.Outbox.get_by_id(old.id)) == expected
        mail = models.Mail.create(direction="out", message_id="new@example.test", kind="approval", at=now)
        new = mailstore.store(mail, "office@example.test", ["li@example.test"], (skeleton, holes), next_attempt_at=now)
        assert models.Blob.select().count() == 2, "the form and its styles, stored once for both rows"
        assert bytes(models.Blob.get_by_id(blob.id).data) == stripped
        assert list(mailstore.messages([old, new]).values()) == [expected, expected]
        models.Outbox.update(state="sent").execute()
        mailstore.pack([old.id, new.id])
        assert list(mailstore.messages(models.Outbox.select().order_by(models.Outbox.id)).values()) == [expected] * 2
    finally:
        models.close()
