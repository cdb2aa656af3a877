"""Outgoing mail as stored: each attachment once by its sha256, the rest of a message as written; rebuilt byte for
byte for sending and for `show --eml`, and the unreferenced attachments removed by prune.

Everything lives in the database, written in the caller's transaction: a queued mail is sendable whatever
moment a daemon dies at, on SQLite as on a PostgreSQL database shared by several daemons. Nothing here talks to
SMTP or decides what to send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import peewee as pw

from daemon import limits
from daemon.compose import assemble, compose_split
from daemon.models import Blob, Outbox, OutboxPart


def store(mail, mail_from: str, rcpts: list[str], headers: list[tuple[str, str]], text: str, html: str,
          attachments=(), **row) -> Outbox:
    """The outbox row of one composed message (daemon.compose), its attachments stored once; inside the caller's
    transaction."""
    skeleton, holes = compose_split(headers, text, html, attachments)
    box = Outbox.create(mail=mail, mail_from=mail_from, rcpts=rcpts, data=skeleton, **row)
    if holes:
        digests = {}
        for _, i in holes:
            data = attachments[i].data
            digest = hashlib.sha256(data).hexdigest()
            if digest not in digests:
                digests[digest] = data
                _keep(digest, data)
        OutboxPart.insert_many([{"outbox": box.id, "position": offset,
                                 "blob": hashlib.sha256(attachments[i].data).hexdigest()}
                                for offset, i in holes]).execute()
    return box


def _keep(digest: str, data: bytes) -> None:
    """The blob is there when the caller commits. An existing one is touched (its size written again) rather than
    passed over: on PostgreSQL that locks its row until the commit, so a prune running at the same moment cannot
    delete it under the reference about to be made (the prune then fails on the reference and tries again)."""
    Blob.insert(sha256=digest, size=len(data), data=data).on_conflict(
        conflict_target=[Blob.sha256], update={Blob.size: len(data)}).execute()


def messages(rows: Iterable[Outbox]) -> dict[int, bytes]:
    """The whole message of each outbox row, by row id, in a few queries."""
    rows = list(rows)
    parts: dict[int, list[tuple[int, str]]] = {}
    for chunk in limits.chunks([r.id for r in rows]):
        for p in OutboxPart.select(OutboxPart.outbox, OutboxPart.position, OutboxPart.blob).where(
                OutboxPart.outbox.in_(chunk)).tuples():
            parts.setdefault(p[0], []).append((p[1], p[2]))
    wanted = sorted({digest for ps in parts.values() for _, digest in ps})
    blobs: dict[str, bytes] = {}
    for chunk in limits.chunks(wanted):
        for digest, data in Blob.select(Blob.sha256, Blob.data).where(Blob.sha256.in_(chunk)).tuples():
            blobs[digest] = bytes(data)
    out = {}
    for r in rows:
        data = bytes(r.data)
        ps = parts.get(r.id)
        out[r.id] = assemble(data, [(pos, blobs[digest]) for pos, digest in ps]) if ps else data
    return out


def message(row: Outbox) -> bytes:
    return messages([row])[row.id]


def stored_size(ids: list[int]) -> tuple[int, set[str]]:
    """What these outbox rows hold themselves (bytes) and the blobs they refer to."""
    size, digests = 0, set()
    for chunk in limits.chunks(ids):
        size += Outbox.select(pw.fn.COALESCE(pw.fn.SUM(pw.fn.LENGTH(Outbox.data)), 0)).where(
            Outbox.id.in_(chunk)).scalar() or 0
        digests.update(d for (d,) in OutboxPart.select(OutboxPart.blob).where(OutboxPart.outbox.in_(chunk)).tuples())
    return size, digests


def unreferenced(digests: Iterable[str], without: Iterable[int] = ()) -> dict[str, int]:
    """Of these blobs, those no outbox row refers to once the rows `without` are gone: their sizes by sha256."""
    digests, gone = sorted(set(digests)), set(without)
    used = set()
    for chunk in limits.chunks(digests):
        for digest, box in OutboxPart.select(OutboxPart.blob, OutboxPart.outbox).where(
                OutboxPart.blob.in_(chunk)).tuples():
            if box not in gone:
                used.add(digest)
    free = {}
    for chunk in limits.chunks([d for d in digests if d not in used]):
        free.update(Blob.select(Blob.sha256, Blob.size).where(Blob.sha256.in_(chunk)).tuples())
    return free


def drop_blobs(digests: Iterable[str]) -> int:
    """Delete these blobs where no outbox row refers to them (any more); inside the caller's transaction."""
    n = 0
    for chunk in limits.chunks(sorted(set(digests))):
        n += Blob.delete().where(Blob.sha256.in_(chunk) & ~pw.fn.EXISTS(
            OutboxPart.select(OutboxPart.id).where(OutboxPart.blob == Blob.sha256))).execute()
    return n
