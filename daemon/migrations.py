"""Schema versions: create a fresh database, upgrade an older one in place, refuse a newer one.

The version lives in the database (table `schema_version`). When it matches this code nothing runs — no
DDL at all, so a daemon starting beside others already running on the same PostgreSQL database never
takes a catalog lock they could deadlock on. Otherwise the upgrade runs once, in one transaction, under
a lock (an advisory lock on PostgreSQL, an immediate write lock on SQLite) so that two daemons starting
together do not both migrate. Each change of the schema is one numbered step in STEPS.

Nothing here knows what a request is: the models come in as arguments, so this module imports nothing
of officeflow.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SchemaMigrator, SqliteMigrator, migrate

log = logging.getLogger("officeflow.db")

VERSION = 9             # the schema this code writes; 1 is the first release, which stored no version
FIRST_RELEASE = 1
_LOCK = 0x6F66666C6F77  # "offlow": the advisory lock key of schema changes on PostgreSQL
_TABLE = "schema_version"


class SchemaError(Exception):
    """The database cannot be used by this code (written by a newer release, or an upgrade failed)."""


def _to_2(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 2: new tables only (per-signer codes, proposals, limits); existing rows carry on unchanged."""
    database.create_tables(models, safe=True)


def _to_3(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 3: every request has a kind of work (request.kind); those already there are 请示. What the executing
    units owe (the 办结回告) is a step: every approved request gets its active one, held by its executing units
    since its approval. Its due time needs the calendar, which this module does not know: it stays empty, and
    the digest reckons it from the approval (reminders.report_after), as it did before."""
    # nullable: on SQLite a NOT NULL column rebuilds the table, and dropping the old one would cascade to its steps
    migrate(migrator.add_column("request", "kind", pw.CharField(null=True, default="请示")))
    database.execute_sql('UPDATE "request" SET "kind" = %s' % database.param, ("请示",))
    rows = database.execute_sql(
        'SELECT r."id", r."execute", r."state_since", (SELECT MAX(s."position") FROM "step" s WHERE s."request_id" = '
        'r."id") FROM "request" r WHERE r."state" = %s' % database.param, ("approved",)).fetchall()
    for request_id, execute, since, last in rows:
        database.execute_sql(
            'INSERT INTO "step" ("request_id", "position", "kind", "approvers", "signed", "state", "code", '
            '"activated_at", "decided_by", "reminders", "away_note") VALUES (%s)' % ", ".join([database.param] * 11),
            (request_id, (last or 0) + 1, "report", execute or "[]", "[]", "active", secrets.token_hex(4).upper(),
             since, "", 0, ""))


def _to_4(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 4: a leader's ad-hoc assignments (交办) — tables of their own, and the round (轮次) a step belongs to;
    every step already there is of round 1 of a 请示."""
    migrate(migrator.add_column("step", "round", pw.IntegerField(null=True, default=1)))
    database.execute_sql('UPDATE "step" SET "round" = 1')
    database.create_tables(models, safe=True)


def _to_5(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 5: sent mail stored once (daemon.mailstore): attachments by their sha256 (blob, the members of zip
    files as blobs of their own: blobchunk) and where each goes back into its message (outboxpart), the mail of a
    closed request compressed together (pack, packedrow). New
    tables only: outbox rows queued or sent before keep their whole message in outbox.data, which is how a row is
    read when its data is not marked as compressed, so they send and show as before, and are packed like others."""
    database.create_tables(models, safe=True)


def _to_6(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 6: an index of requests by sender and time of receipt, for the hourly limit of new requests that
    is looked up on every new mail (a scan of the whole register at 50,000 requests)."""
    # IF NOT EXISTS: an older database's earlier steps create every table's indexes of this release already
    database.execute_sql('CREATE INDEX IF NOT EXISTS "request_sender_received_at" '
                         'ON "request" ("sender", "received_at")')


def _to_7(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 7: mail indexed by direction and code, and by direction and time, for what intake looks up on
    every reply (the code in its subject) and every answer (answers sent to an address in the last day): each
    was a scan of all the mail sent, six lines or more a request."""
    database.execute_sql('CREATE INDEX IF NOT EXISTS "mail_direction_code" ON "mail" ("direction", "code")')
    database.execute_sql('CREATE INDEX IF NOT EXISTS "mail_direction_at" ON "mail" ("direction", "at")')


def _to_8(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 8: what is left of a zip attachment without its members (its headers and small members) is kept in
    the serial of each outbox row that carries it, its blob's data left empty, and packs hold the mail of many
    closed requests (daemon.mailstore). No table changes: blobs and rows written before read as before. The version
    is what keeps an older release, which would read such a blob as the whole zip file, from this database."""


def _to_9(database: pw.Database, migrator: SchemaMigrator, models: Sequence[type[pw.Model]]) -> None:
    """Release 9: indexes that took room and served nothing another index does not. Mail by time alone: every
    query by time names the direction too (the index of direction and time) or the request. The outbox by state
    and by next attempt: one index of the rows not sent (queued, sending, failed), a few at any time, where the
    sent rows, nearly all of the table, never needed one. Steps, signers' codes and rounds by their request or
    step alone: the index of the pair that starts with it finds them as well. No row changes here; from now on a
    packed outbox row leaves out the envelope sender and recipients its mail holds the same of (mailstore.envelope),
    which an older release would read as none: the version keeps it from this database."""
    for name in ("mail_at", "outbox_state", "outbox_next_attempt_at", "step_request_id", "signercode_step_id",
                 "round_request_id"):
        database.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
    # the text peewee writes for the model's index (models.UNSENT), so that an upgraded database is a new one's
    database.execute_sql('CREATE INDEX IF NOT EXISTS "outbox_unsent" ON "outbox" ("state", "next_attempt_at") WHERE '
                         '((("state" = \'queued\') OR ("state" = \'sending\')) OR ("state" = \'failed\'))')


# version reached -> the step that reaches it from the version before
STEPS: dict[int, Callable[[pw.Database, SchemaMigrator, Sequence[type[pw.Model]]], None]] = {
    2: _to_2,
    3: _to_3,
    4: _to_4,
    5: _to_5,
    6: _to_6,
    7: _to_7,
    8: _to_8,
    9: _to_9,
}


def stored_version(database: pw.Database) -> int | None:
    """The version written in the database; FIRST_RELEASE for a database of the first release; None when empty."""
    if database.table_exists(_TABLE):
        row = database.execute_sql(f'SELECT "version" FROM "{_TABLE}"').fetchone()
        if row is not None:
            return int(row[0])
    return FIRST_RELEASE if database.table_exists("request") else None


def _write_version(database: pw.Database, version: int) -> None:
    database.execute_sql(f'CREATE TABLE IF NOT EXISTS "{_TABLE}" ("version" INTEGER NOT NULL)')
    database.execute_sql(f'DELETE FROM "{_TABLE}"')
    database.execute_sql(f'INSERT INTO "{_TABLE}" ("version") VALUES ({int(version)})')


def _newer(found: int) -> SchemaError:
    return SchemaError(f"the database has schema version {found}, written by a newer officeflow; this one knows "
                       f"versions up to {VERSION}: upgrade officeflow, or point database.url at another database")


@contextmanager
def _locked(database: pw.Database):
    """One transaction that no other daemon's schema change can interleave with."""
    if isinstance(database, pw.PostgresqlDatabase):
        with database.atomic():
            database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            yield
    else:
        with database.atomic(lock_type="IMMEDIATE"):
            yield


def ensure(database: pw.Database, models: Sequence[type[pw.Model]]) -> int:
    """Bring the schema of `database` to VERSION; returns the version found before (None read as 0)."""
    found = stored_version(database)
    if found == VERSION:
        return found
    if found is not None and found > VERSION:
        raise _newer(found)
    with _locked(database):
        found = stored_version(database)          # another daemon may have done it while we waited
        if found == VERSION:
            return found
        if found is not None and found > VERSION:
            raise _newer(found)
        if found is None:
            database.create_tables(models, safe=True)
            _write_version(database, VERSION)
            log.info("- created a new database, schema version %d", VERSION)
            return 0
        log.warning("- upgrading the database schema from version %d to %d in place (keep a backup of the "
                    "database from before the upgrade until the new release has run well)", found, VERSION)
        migrator = (PostgresqlMigrator(database) if isinstance(database, pw.PostgresqlDatabase)
                    else SqliteMigrator(database))
        for version in range(found + 1, VERSION + 1):
            try:
                STEPS[version](database, migrator, models)
            except pw.DatabaseError as e:
                raise SchemaError(f"upgrading the database schema to version {version} failed: {e}; "
                                  f"nothing was changed") from e
        _write_version(database, VERSION)
        log.info("- database schema upgraded to version %d", VERSION)
        return found
