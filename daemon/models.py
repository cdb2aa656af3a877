"""The database: requests, their steps and opinions, every mail in and out (收发记录), the outbox.

Nothing here talks to IMAP or SMTP. `connect(url)` binds the deferred database at start.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import peewee as pw

from daemon import migrations

db = pw.DatabaseProxy()


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTimeField(pw.DateTimeField):
    """Aware datetimes stored as UTC ISO text (same ordering in SQLite and PostgreSQL text)."""

    field_type = "VARCHAR(32)"

    def db_value(self, value):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored")
        # YYYY-MM-DDTHH:MM:SS.ffffff+00:00, what strftime wrote before, in a third of its time
        return value.astimezone(timezone.utc).isoformat(timespec="microseconds")

    def python_value(self, value):
        if value is None or isinstance(value, datetime):
            return value
        return datetime.fromisoformat(value)


class BytesField(pw.BlobField):
    """Raw bytes in and out: SQLite gives bytes already, psycopg2 gives a memoryview of the bytea."""

    def python_value(self, value):
        return bytes(value) if isinstance(value, memoryview) else value


class JSONField(pw.TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class Base(pw.Model):
    class Meta:
        database = db

    @classmethod
    def create(cls, **query):
        """Model.create; on SQLite the INSERT's text is made once per model and set of columns (peewee builds it
        anew every time, a large part of what each mail costs). Whatever the cache cannot be sure of goes
        through peewee as before."""
        inst = cls(**query)
        if not _insert_with_known_sql(inst):
            inst.save(force_insert=True)
        return inst

    def save(self, force_insert=False, only=None):
        """Model.save; a stored row saved on SQLite, whole or its `only` fields, reuses its UPDATE's text as create()
        does."""
        if not force_insert:
            rows = _update_with_known_sql(self, only)
            if rows is not None:
                return rows
        return super().save(force_insert=force_insert, only=only)


class Prepared:
    """A select of `model` rows that a mail runs every time, its SQL text made by peewee once per kind of database
    and run again with each call's values. `make(*values)` gives the peewee query; the text is kept only when
    peewee's parameters for the first call are exactly `values`, in order (else every call goes through peewee)."""

    def __init__(self, model, make):
        self.model, self.make = model, make
        self.sql: dict[type, str | None] = {}

    def __call__(self, *values) -> list:
        kind = type(db.obj)
        if kind not in self.sql:
            query = self.make(*values)
            sql, params = db.obj.get_sql_context().sql(query).query()
            self.sql[kind] = sql if list(params) == list(values) else None
            return list(query)
        sql = self.sql[kind]
        return list(self.model.raw(sql, *values) if sql is not None else self.make(*values))


class Statement:
    """A statement that is not a select of rows (a count, an upsert, one value) run for every mail, its SQL text made
    by peewee once per kind of database and run again with each call's values, as Prepared does: `make(*values)`
    gives the peewee query, and the text is kept only when peewee's parameters for the first call are exactly
    `values`, in order (a value a field converts, a time, is passed as the database takes it, in
    pw.Value(..., converter=False); a constant as pw.SQL)."""

    def __init__(self, make):
        self.make = make
        self.sql: dict[type, str | None] = {}

    def cursor(self, *values):
        database = db.obj
        sql = self.sql.get(type(database))
        if sql is None:         # the first call, or a text not kept: peewee makes the statement
            sql, params = database.get_sql_context().sql(self.make(*values)).query()
            self.sql.setdefault(type(database), sql if list(params) == list(values) else None)
            return database.execute_sql(sql, params)
        return database.execute_sql(sql, values)

    def scalar(self, *values):
        """The first column of the first row, None when there is none."""
        row = self.cursor(*values).fetchone()
        return row[0] if row else None


_INSERTS: dict[tuple, str | None] = {}     # (model, database class, columns) -> the INSERT, None: not cached


def _insert_with_known_sql(inst: pw.Model) -> bool:
    """Insert `inst` (a new row with an auto-increment key) with the SQL text of an earlier insert of the same
    columns; False when it did not (another database, an expression or an unsaved relation among the values).
    The text is kept only when peewee's own statement and values for this very row are the ones made here."""
    meta, database = inst._meta, db.obj
    if not isinstance(database, pw.SqliteDatabase) or not meta.auto_increment or inst._pk is not None:
        return False
    data = inst.__data__
    fields = [f for f in meta.sorted_fields if f.name in data and f is not meta.primary_key]
    if any(isinstance(data[f.name], pw.Node) or (isinstance(data[f.name], pw.Model) and data[f.name]._pk is None)
           for f in fields):
        return False
    key = (type(inst), type(database), tuple(f.name for f in fields))
    values = [f.db_value(data[f.name]) for f in fields]
    if key not in _INSERTS:
        sql, params = database.get_sql_context().sql(type(inst).insert({f: data[f.name] for f in fields})).query()
        _INSERTS[key] = sql if params == values and " RETURNING " not in sql.upper() else None
    sql = _INSERTS[key]
    if sql is None:
        return False
    inst._pk = database.execute_sql(sql, values).lastrowid
    inst._dirty.clear()
    return True


_UPDATES: dict[tuple, str | None] = {}     # (model, database class, columns) -> the UPDATE of one row by its key


def _update_with_known_sql(inst: pw.Model, only=None) -> int | None:
    """Save every column of the stored row `inst` (or those of `only`, fields or their names, as Model.save takes
    them) with the SQL text of an earlier save of the same columns; the rows changed, or None when it did not (as
    _insert_with_known_sql, and a relation assigned before its row was stored: peewee fills that one in)."""
    meta, database = inst._meta, db.obj
    if (not isinstance(database, pw.SqliteDatabase) or meta.primary_key is False or meta.composite_key
            or (meta.only_save_dirty and only is None) or inst._pk is None):
        return None        # what peewee saves otherwise than these columns by one key: peewee does it
    data = inst.__data__
    if only is None:
        fields = [f for f in meta.sorted_fields if f.name in data and f is not meta.primary_key]
    else:
        names = list(dict.fromkeys(f if isinstance(f, str) else f.name for f in only))      # by name, as peewee does
        if any(name not in meta.combined for name in names):
            return None
        fields = [meta.combined[name] for name in names]
        fields = [f for f in fields if f.name in data and f is not meta.primary_key]
    if not fields or any(isinstance(data[f.name], pw.Node)
                         or (data[f.name] is None and inst.__rel__.get(f.name) is not None) for f in fields):
        return None
    key = (type(inst), type(database), tuple(f.name for f in fields))
    values = [f.db_value(data[f.name]) for f in fields] + [meta.primary_key.db_value(inst._pk)]
    if key not in _UPDATES:
        query = type(inst).update({f: data[f.name] for f in fields}).where(inst._pk_expr())
        sql, params = database.get_sql_context().sql(query).query()
        _UPDATES[key] = sql if params == values and " RETURNING " not in sql.upper() else None
    sql = _UPDATES[key]
    if sql is None:
        return None
    rows = database.execute_sql(sql, values).rowcount
    inst._dirty -= {f.name for f in fields}
    return rows


class Counter(Base):
    """Registration sequence per year; incremented inside the registering transaction."""

    name = pw.CharField(primary_key=True)
    value = pw.IntegerField(default=0)


# Request states
REVIEWING = "reviewing"      # 待办公室审核
RETURNED = "returned"        # 已退回单位修改
APPROVING = "approving"      # 审批中
APPROVED = "approved"        # 已批准，待办结
DONE = "done"                # 已办结
REJECTED = "rejected"        # 未获批准
WITHDRAWN = "withdrawn"      # 已撤回
OPEN_STATES = (REVIEWING, RETURNED, APPROVING)
STATE_LABELS = {REVIEWING: "待办公室审核", RETURNED: "已退回修改", APPROVING: "审批中",
                APPROVED: "已批准，待办结", DONE: "已办结", REJECTED: "未获批准", WITHDRAWN: "已撤回"}


class Request(Base):
    number = pw.CharField(unique=True)
    year = pw.IntegerField()
    seq = pw.IntegerField()
    state = pw.CharField(index=True)
    unit_id = pw.CharField(null=True)
    unit_name = pw.TextField()
    sender = pw.TextField()                 # address of the requesting unit's mail
    title = pw.TextField()                  # as long as units write it (no VARCHAR limit to trip on)
    body = pw.TextField(default="")
    message_id = pw.TextField()             # Message-ID of the (latest) request mail
    received_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    state_since = UTCDateTimeField()
    urgency = pw.CharField(default="")
    deadline = pw.DateField(null=True)
    attachments = JSONField(default=list)   # [{"name", "path", "content_type", "size"}]
    findings = JSONField(default=list)      # [{"rule", "severity", "message", "reason", "suggestion"}]
    proposal = pw.TextField(default="")     # 拟办意见
    proposal_by = pw.CharField(default="")
    proposal_at = UTCDateTimeField(null=True)
    route = pw.TextField(default="")        # the 流程 line as applied
    execute = JSONField(default=list)       # [address] of the executing unit(s)
    copies = JSONField(default=list)        # [address]
    result = pw.CharField(default="")       # 同意 / 不同意 / 撤回 / 退回
    closed_at = UTCDateTimeField(null=True)
    done_report = pw.TextField(default="")
    code = pw.CharField()                   # short code of the review mail to office staff; rotates
    done_code = pw.CharField(default="")    # short code of the result mail to the executing unit (办结)
    report_reminded_at = UTCDateTimeField(null=True)   # unused: the report step's reminders and due time say it
    kind = pw.CharField(null=True, default="请示")   # the kind of work (daemon.flows); null read as 请示

    class Meta:
        # the hourly limit of new requests per sender looks up a sender's recent ones on every new mail
        indexes = ((("sender", "received_at"), False),)


# Step states
PENDING, ACTIVE, APPROVED_STEP, REJECTED_STEP, RETURNED_STEP, CANCELLED = (
    "pending", "active", "approved", "rejected", "returned", "cancelled")
REPORT = "report"   # Step.kind of the executing unit's 办结回告: held by the executing units, due after report_after
STEP_LABELS = {PENDING: "未开始", ACTIVE: "待审批", APPROVED_STEP: "已同意", REJECTED_STEP: "不同意",
               RETURNED_STEP: "已退回", CANCELLED: "已撤销"}


class Step(Base):
    # no index of its own: the index of (request, position) below finds a request's steps
    request = pw.ForeignKeyField(Request, backref="steps", on_delete="CASCADE", index=False)
    position = pw.IntegerField()            # order within the request (renumbered on 加签)
    kind = pw.CharField()                   # "one" | "all" (会签) | "any" (或签) | "report" (办结回告, REPORT)
    approvers = JSONField()                 # [address]
    signed = JSONField(default=list)        # [address] who approved (会签 progress)
    state = pw.CharField(default=PENDING, index=True)
    code = pw.CharField(index=True)         # short code of this step's notification; rotates on every change
    activated_at = UTCDateTimeField(null=True)
    decided_at = UTCDateTimeField(null=True)
    decided_by = pw.CharField(default="")
    reminders = pw.IntegerField(default=0)
    next_reminder_at = UTCDateTimeField(null=True, index=True)
    escalated_at = UTCDateTimeField(null=True)
    away_note = pw.TextField(default="")    # out-of-office replies seen on this step
    round = pw.IntegerField(null=True, default=1)   # a 交办's round (轮次) the step belongs to; 1 for a 请示

    class Meta:
        indexes = ((("request", "position"), False),)


class SignerCode(Base):
    """Each signer's own code on a step, so that a mail sent to one signer can never carry another's decision.

    A code counts while its `generation` is the step's current code: rotating Step.code (activation, 转)
    retires every signer's code of the step at once.
    """

    # no index of its own: the index of (step, address, generation) below finds a step's codes
    step = pw.ForeignKeyField(Step, backref="signer_codes", on_delete="CASCADE", index=False)
    address = pw.CharField()                # the signer (the approver the mail was sent for)
    generation = pw.CharField()             # Step.code when this code was made
    code = pw.CharField(index=True)

    class Meta:
        indexes = ((("step", "address", "generation"), False),)


class Opinion(Base):
    request = pw.ForeignKeyField(Request, backref="opinions", on_delete="CASCADE")
    step = pw.ForeignKeyField(Step, null=True, backref="opinions", on_delete="SET NULL")
    person = pw.CharField()                 # address
    name = pw.CharField()
    decision = pw.CharField()               # 拟办 同意 原则同意 不同意 退回 转交 加签 撤回 办结 补充
    text = pw.TextField(default="")
    at = UTCDateTimeField()


class Proposal(Base):
    """A reading offered in a question (请王总定 → 转：王总), applied only when the person asked answers 是.

    Its code belongs to one person on one step: the question mail carries it in its subject, and it counts
    only from the address asked, only while the step is active with the code it had when asked."""

    step = pw.ForeignKeyField(Step, backref="proposals", on_delete="CASCADE")
    person = pw.CharField()                 # the principal whose decision it is
    sender = pw.CharField()                 # the address asked (the principal or their delegate)
    verb = pw.CharField()                   # 同意 不同意 退回 转: a replies.Verb's value
    target = pw.CharField(default="")       # 转: the person named
    text = pw.TextField(default="")         # what the person wrote; the opinion when confirmed
    code = pw.CharField(unique=True)        # carried by the question mail
    step_code = pw.CharField()              # the step's code when asked: a changed step voids the offer
    message_id = pw.TextField(default="")   # of the question mail
    created = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)


class Task(Base):
    """A 交办 (SPEC §6): its three elements in force, its leader and its units; one row per Request of kind 交办.

    The Request row carries what every kind has (number, state, 内容 as title, the leader's text as body, the
    urgency, the deadline's day); its steps are who holds it (daemon.jiaoban), its Opinion rows the 办理记录
    (进展, 协办完毕, 办结, 核报, 批示 …), its Round rows each round's dates and results."""

    request = pw.ForeignKeyField(Request, unique=True, backref="tasks", on_delete="CASCADE")
    leader = pw.CharField()                     # the leader who assigned it (address)
    by = pw.CharField(default="")               # who mailed it for the leader: a delegate, or staff (代登记)
    source = pw.CharField(default="")           # 来源: 邮件, 电话, 会议, 批示, 口头
    content = pw.TextField(default="")          # 内容
    requirements = pw.TextField(default="")     # 要求 (of the current round)
    deadline_text = pw.TextField(default="")    # 时限 as written
    deadline_at = UTCDateTimeField(null=True)   # 时限 in force (the current round's)
    default_deadline = pw.BooleanField(default=False)   # from jiaoban.default_deadline: shown as （默认时限）
    lead = pw.CharField(default="")             # 承办: the lead unit's (or person's) address
    co_units = JSONField(default=list)          # 协办: [address]
    feedback_every = pw.CharField(default="")   # 反馈周期, e.g. "5d"; "" = jiaoban.progress_every
    round = pw.IntegerField(default=1)          # the current round (轮次)
    proposed = JSONField(default=dict)          # the elements as proposed at registration (SPEC §6.2 step 2)


class Round(Base):
    """One round (轮次) of a 交办: its deadline before and after extensions, its report, check and 批示.
    Results are judged per round (SPEC §6.7)."""

    # no index of its own: the index of (request, number) below finds a request's rounds
    request = pw.ForeignKeyField(Request, backref="rounds", on_delete="CASCADE", index=False)
    number = pw.IntegerField()
    requirements = pw.TextField(default="")     # 要求 of this round (继续办理 brings new ones)
    dispatched_at = UTCDateTimeField(null=True)
    deadline_at = UTCDateTimeField(null=True)   # in force
    base_deadline_at = UTCDateTimeField(null=True)  # before any granted extension: 按期 is judged on it
    signed_at = UTCDateTimeField(null=True)     # the lead unit's first reply (签收)
    last_progress_at = UTCDateTimeField(null=True)
    reported_at = UTCDateTimeField(null=True)   # arrival of the report that was 核报 (the round's last)
    report = pw.TextField(default="")
    checked_at = UTCDateTimeField(null=True)
    checked_by = pw.CharField(default="")
    check_opinion = pw.TextField(default="")    # 核报意见
    read_at = UTCDateTimeField(null=True)       # the leader's 阅 (or 视为办结)
    instruction = pw.TextField(default="")      # the leader's 批示
    result = pw.CharField(default="")           # 按期 / 延期后办结 / 逾期办结
    deemed = pw.BooleanField(default=False)     # 视为办结（领导无新批示）
    escalated_at = UTCDateTimeField(null=True)  # 逾期督办 sent (once a round)
    reminders = pw.IntegerField(default=0)      # 催办 sent this round

    class Meta:
        indexes = ((("request", "number"), True),)


class DeadlineChange(Base):
    """Every change of a 交办's 时限, with who made it and how (SPEC §6.2 step 9): shown in show, 核报单, 台账."""

    request = pw.ForeignKeyField(Request, backref="deadline_changes", on_delete="CASCADE")
    round = pw.IntegerField()
    old_at = UTCDateTimeField(null=True)
    new_at = UTCDateTimeField(null=True)
    by = pw.CharField()                         # address
    how = pw.CharField()                        # 更正 / 延期 / 退回 / 新一轮 / 派发
    at = UTCDateTimeField()


class Mail(Base):
    """收发记录: every mail in and out, what it did or why it was ignored."""

    direction = pw.CharField()              # "in" | "out"
    message_id = pw.TextField()
    request = pw.ForeignKeyField(Request, null=True, backref="mails", on_delete="SET NULL")
    step = pw.ForeignKeyField(Step, null=True, on_delete="SET NULL")
    kind = pw.CharField(default="")         # template name (out) or what it was (in)
    at = UTCDateTimeField()                 # found by (direction, at) below, or by its request
    sender = pw.TextField(default="")
    rcpts = JSONField(default=list)
    subject = pw.TextField(default="")
    action = pw.TextField(default="")       # what it did, or why it was ignored
    ignored = pw.BooleanField(default=False)
    archive = pw.CharField(default="")      # path of the raw mail in the archive
    code = pw.CharField(default="")         # the request/step code this mail carried (out)

    class Meta:
        indexes = ((("direction", "message_id"), True),
                   # the code in a reply's subject, looked up among the mails sent (intake.disagreement)
                   (("direction", "code"), False),
                   # the mail of the last hours or day: answers per address, flood and loop checks, the digest
                   (("direction", "at"), False))


class Outbox(Base):
    """Outgoing mail until sent, and its stored copy after, as daemon.mailstore writes it: in `data`, or in a
    pack once its request is closed (PackedRow); the whole message in `data` for mail queued by releases before
    schema 5. A packed row leaves `mail_from` and `rcpts` empty where its mail's `sender` and `rcpts` are the same
    (read them through mailstore.envelope)."""

    mail = pw.ForeignKeyField(Mail, on_delete="CASCADE")
    mail_from = pw.CharField()
    rcpts = JSONField()
    data = BytesField()
    state = pw.CharField(default="queued")   # queued | sending | sent | failed: see UNSENT below
    attempts = pw.IntegerField(default=0)
    next_attempt_at = UTCDateTimeField()
    claimed_by = pw.CharField(default="")
    claimed_at = UTCDateTimeField(null=True)
    sent_at = UTCDateTimeField(null=True)
    last_error = pw.TextField(default="")


# The outbox is looked up by state only for the rows not sent (the queue, the claims of sending, `officeflow status`):
# its index holds those rows alone, a few at any time, where the sent ones are nearly all of the table. A query uses
# it when its condition on state implies the index's. SQLite proves that only by sameness, looking into the index's
# ORs: `state = x` for one of these states does, and so does `state = 'queued' OR state = 'sending'` (the first two
# terms as written here); `state IN (...)` does not. PostgreSQL sees all of them.
UNSENT = ("queued", "sending", "failed")
Outbox.add_index(Outbox.index(Outbox.state, Outbox.next_attempt_at, name="outbox_unsent").where(
    (Outbox.state == UNSENT[0]) | (Outbox.state == UNSENT[1]) | (Outbox.state == UNSENT[2])))


class Blob(Base):
    """An attachment of outgoing mail, stored once by the sha256 of its bytes however many mails carry it."""

    sha256 = pw.CharField(unique=True)          # hex, of the whole attachment; rows refer to the short id
    size = pw.IntegerField()                    # of the whole attachment
    data = BytesField()                         # the attachment, without its chunks when it has any


class BlobChunk(Base):
    """A piece of a blob kept as a blob of its own, put back at `position` in the blob's data: the members of a
    zip file (.docx, .xlsx …), so that what every 审批单 shares (its styles, its theme) is stored once."""

    blob = pw.ForeignKeyField(Blob, backref="chunks", on_delete="CASCADE")
    position = pw.IntegerField()
    chunk = pw.ForeignKeyField(Blob, backref="chunk_of")     # no cascade: a chunk in use cannot be deleted


class OutboxPart(Base):
    """Where the body of an attachment goes back into an outbox row's message (daemon.mailstore)."""

    outbox = pw.ForeignKeyField(Outbox, backref="parts", on_delete="CASCADE")
    position = pw.IntegerField()                # where the base64 of the blob goes in the message's skeleton
    blob = pw.ForeignKeyField(Blob, backref="uses")     # no cascade: a blob in use cannot be deleted


class Pack(Base):
    """The stored copies of sent mail of closed requests, compressed together (daemon.mailstore.pack)."""

    data = BytesField()


class PackedRow(Base):
    """Where an outbox row's stored copy is in a pack: its bytes from `start` in the pack's decompressed data."""

    outbox = pw.ForeignKeyField(Outbox, unique=True, on_delete="CASCADE")
    pack = pw.ForeignKeyField(Pack, backref="rows")     # no cascade: a pack in use cannot be deleted
    start = pw.IntegerField()
    length = pw.IntegerField()


class Job(Base):
    """Periodic work done at most once per due time (digest of a day, weekly summary), even with two daemons."""

    name = pw.CharField(primary_key=True)
    done_at = UTCDateTimeField()

    @classmethod
    def claim(cls, name: str, at: datetime) -> bool:
        """Inside the caller's transaction: True for the one daemon that records `name` first."""
        if cls.select().where(cls.name == name).exists():
            return False                # claimed before: no write on every run for what is long done
        try:
            with db.atomic():
                cls.create(name=name, done_at=at)
            return True
        except pw.IntegrityError:
            return False


MODELS = (Counter, Request, Step, SignerCode, Opinion, Proposal, Task, Round, DeadlineChange, Mail, Outbox, Blob,
          BlobChunk, OutboxPart, Pack, PackedRow, Job)


def connect(url: str, upgrade: bool = True) -> pw.Database:
    """Bind the proxy to the database of `url` and bring its schema to this release (see migrations);
    upgrade=False only looks (`officeflow status`): the schema stays as it is."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # synchronous=normal: in WAL mode a commit survives a killed process at once, and the machine losing
        # power once the WAL is flushed; sync() flushes it before anything is seen outside (a mail moved out
        # of the inbox, a mail sent), so one flush serves a batch of commits, not one each.
        # Transactions begin IMMEDIATE: the daemon writes from two threads (the sender's, see service.Sender),
        # and a transaction that read first and wrote second would fail at once if the other had committed in
        # between; taking the write lock at BEGIN makes it wait its turn (busy_timeout) instead
        database = pw.SqliteDatabase(path, pragmas={"journal_mode": "wal", "foreign_keys": 1,
                                                    "busy_timeout": 10000, "synchronous": "normal"},
                                     lock_type="IMMEDIATE")
        db.initialize(database)
        database.connect(reuse_if_open=True)
        if upgrade:
            migrations.ensure(database, MODELS)
        return database
    from playhouse.db_url import parse
    url = url.replace("postgres://", "postgresql://", 1)
    if not url.startswith("postgresql://"):
        raise ValueError(f"database.url: not sqlite:/// or postgresql://: {url!r}")
    params = parse(url, unquote_password=True, unquote_user=True)
    params.setdefault("connect_timeout", 10)
    params.setdefault("application_name", "officeflow")
    database = PostgresDatabase(**params)
    db.initialize(database)
    database.connect(reuse_if_open=True)
    if upgrade:
        migrations.ensure(database, MODELS)
    return database


class PostgresDatabase(pw.PostgresqlDatabase):
    """PostgreSQL that outlives a server restart.

    A connection cut by the server (restart, failover, idle kill) stays dead in psycopg2. Outside a
    transaction a statement that fails because the connection is gone is run once more on a new one;
    BEGIN is always safe to retry. Inside a transaction the error goes to the caller (the work is lost
    and must be redone), and the rollback of a dead connection does not hide that error.

    PostgreSQL text cannot hold NUL, which mail (a broken client, a hostile sender) may carry in a subject
    or body; SQLite stores it. Here a NUL becomes U+FFFD instead of failing the mail again on every start.
    """

    def _connection_lost(self) -> bool:
        conn = None if self.is_closed() else self._state.conn
        return conn is not None and conn.closed != 0

    def _reset(self) -> None:
        """Forget the dead connection; the next statement opens a new one."""
        conn = self._state.conn
        with self._lock:
            self._state.reset()
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is dead already
                pass

    def _retrying(self, run, *args, **kwargs):
        if not self.in_transaction() and self._connection_lost():
            self._reset()
        try:
            return run(*args, **kwargs)
        except (pw.OperationalError, pw.InterfaceError):
            if self.in_transaction() or not self._connection_lost():
                raise
            self._reset()
            return run(*args, **kwargs)

    def execute_sql(self, sql, params=None, *args, **kwargs):
        if params and any(isinstance(p, str) and "\x00" in p for p in params):
            params = type(params)(p.replace("\x00", "\ufffd") if isinstance(p, str) else p for p in params)
        return self._retrying(super().execute_sql, sql, params, *args, **kwargs)

    def begin(self, *args, **kwargs):
        return self._retrying(super().begin, *args, **kwargs)

    def rollback(self):
        if self._connection_lost():
            self._reset()      # the server rolled back when the connection died
            return
        super().rollback()


def in_memory() -> bool:
    """True when the database is SQLite in memory: each connection, so each thread, would see its own."""
    return isinstance(db.obj, pw.SqliteDatabase) and db.obj.database == ":memory:"


def sent_journal() -> Path | None:
    """Where the outbox writes down, on SQLite, what the server accepted until it is committed (outbox.flush):
    a folder beside the database file. None on PostgreSQL and in memory: there each result is committed."""
    if not isinstance(db.obj, pw.SqliteDatabase) or in_memory():
        return None
    return Path(db.obj.database + "-sent")


@contextlib.contextmanager
def one_daemon_at_a_time(key: int):
    """What runs inside, one daemon at a time among those sharing a PostgreSQL database: a transaction's
    advisory lock on `key`, let go when the transaction ends however it ends (the connection lost too). On SQLite
    one daemon runs (service._sole_user), and nothing is locked."""
    if not isinstance(db.obj, pw.PostgresqlDatabase):
        yield
        return
    with db.atomic():
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))
        yield


def small_cache() -> None:
    """This thread's SQLite connection with a page cache of 512 KB, not 2 MB: for a thread that reads what it
    needs once (the sender), where a larger cache would only hold memory."""
    if isinstance(db.obj, pw.SqliteDatabase):
        db.execute_sql("PRAGMA cache_size = -512")


def sync() -> None:
    """Every commit so far on disk, before its effect is seen outside the database. On SQLite the commits are
    in the WAL file, written but not flushed (synchronous=normal): the file is flushed here, which covers every
    connection's commits (fsync is of the file, whatever descriptor it comes through). PostgreSQL has flushed
    each commit already."""
    if not isinstance(db.obj, pw.SqliteDatabase) or in_memory():
        return
    try:
        fsync_path(db.obj.database + "-wal")
    except FileNotFoundError:
        pass            # no WAL: no connection is open, the last one to close checkpointed it into the file


def fsync_path(path: str | Path) -> None:
    """What is written to the file or folder `path` on disk (a folder: the names in it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def close() -> None:
    if db.obj is not None and not db.is_closed():
        sync()
        db.close()
