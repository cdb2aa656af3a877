"""Outgoing mail as stored: each attachment once by its sha256, the rest of a message compressed in its outbox row,
and the rows of closed requests compressed together into packs; rebuilt byte for byte for sending and for
`show --eml`, and removed with what nothing refers to any more by prune.

A message is kept as its skeleton (daemon.compose.compose_split: the message without its base64 bodies) with the
raw text and HTML parts (a row's "serial"); attachments are blobs, put back at the offsets OutboxPart holds. A zip
file's members are blobs of their own (so what every 审批单 shares is stored once); what is left of it once they
are cut out (its headers and small members, a few KB that differ with every form) goes in the serial of each row
that carries it, when small, where the packing of closed requests compresses it with the rest of their mail.
Everything is written in the caller's transaction, so a queued mail is sendable whatever moment a daemon dies at,
on SQLite as on a PostgreSQL database shared by several daemons. Nothing here talks to SMTP or decides what to
send or keep.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import struct
import zipfile
import zlib
from collections.abc import Iterable

import peewee as pw

from daemon import limits
from daemon.compose import Hole, assemble
from daemon.models import Blob, BlobChunk, Mail, Outbox, OutboxPart, Pack, PackedRow, Statement

MAGIC = b"\x00of1"      # a row's data so marked is its compressed serial; no message starts with a NUL
# How a zip file is cut is part of what is stored: a blob's chunks and what is left of it (in the blob, or in each
# row when small) are cut once, when the blob is first written, and every row after relies on the same cut; changing
# these two or zip_members() needs a schema step that stores existing blobs again.
CHUNK_MIN = 512         # a zip member smaller than this stays in what is left of the zip file
REST_MAX = 16 * 1024    # what is left of a zip file without its members up to this goes in each row's serial
PACK_MAX = 4 << 20      # the uncompressed bytes of one pack, at most (a larger row is a pack of its own)


def _serial(skeleton: bytes, texts: list[tuple[int, bytes]], rests: list[tuple[int, bytes]] = ()) -> bytes:
    """One line of JSON (the skeleton's length, each text's offset in it and length, and each zip attachment's
    offset and the length of what is left of it without its members), the skeleton, the texts, those rests."""
    head = {"skeleton": len(skeleton), "texts": [[offset, len(data)] for offset, data in texts]}
    if rests:
        head["rests"] = [[offset, len(data)] for offset, data in rests]
    return b"".join([json.dumps(head).encode("ascii"), b"\n", skeleton, *(data for _, data in [*texts, *rests])])


def _parse(serial: bytes) -> tuple[bytes, list[tuple[int, bytes]], dict[int, bytes]]:
    """The skeleton, the texts by offset, and the rests of zip attachments by offset (none before schema 8)."""
    line, _, rest = serial.partition(b"\n")
    head = json.loads(line)
    at = head["skeleton"]
    found = {}
    for key in ("texts", "rests"):
        found[key] = []
        for offset, length in head.get(key, ()):
            found[key].append((offset, rest[at:at + length]))
            at += length
    return rest[:head["skeleton"]], found["texts"], dict(found["rests"])


def store(mail, mail_from: str, rcpts: list[str], message: tuple[bytes, list[Hole]], **row) -> Outbox:
    """The outbox row of one message, as daemon.compose.compose_split gives it; inside the caller's transaction."""
    skeleton, holes = message
    texts = [(h.offset, h.data) for h in holes if h.index is None]
    parts, kept, rests = [], {}, []
    for h in holes:
        if h.index is None:
            continue
        digest = hashlib.sha256(h.data).hexdigest()
        if digest not in kept:
            kept[digest] = _keep(digest, h.data)
        blob, rest = kept[digest]
        parts.append({"position": h.offset, "blob": blob})
        if rest is not None:
            rests.append((h.offset, rest))
    box = Outbox.create(mail=mail, mail_from=mail_from, rcpts=rcpts,
                        data=MAGIC + zlib.compress(_serial(skeleton, texts, rests)), **row)
    if len(parts) == 1:
        OutboxPart.create(outbox=box.id, **parts[0])        # the usual one attachment: its INSERT's text is kept
    elif parts:
        OutboxPart.insert_many([{**part, "outbox": box.id} for part in parts]).execute()
    return box


def _keep(digest: str, data: bytes) -> tuple[int, bytes | None]:
    """The id of the blob of `data`, there when the caller commits, its chunks (zip members) too, and what is left
    of a zip file without its members when that goes in the row rather than in the blob (None when it does not).
    An existing blob is touched (its size written again) rather than passed over: on PostgreSQL that locks its row
    until the commit, so a prune running at the same moment cannot delete it under the reference about to be made
    (the prune fails on the reference instead, and runs again)."""
    stripped, chunks = _cut(data, zip_members(data))
    rest = stripped if chunks and len(stripped) <= REST_MAX else None
    blob = _upsert(digest, b"" if rest is not None else stripped, len(data))
    if chunks and _chunked.scalar(blob) is None:
        BlobChunk.insert_many([{"blob": blob, "position": position, "chunk": _upsert(
            hashlib.sha256(chunk).hexdigest(), chunk, len(chunk))} for position, chunk in chunks]).execute()
    return blob, rest


# each queued attachment's (and zip member's) blob, written or touched, and its id; whether a blob has its chunks
_put = Statement(lambda digest, size, data: Blob.insert(sha256=digest, size=size, data=data).on_conflict(
    conflict_target=[Blob.sha256], update={Blob.size: pw.EXCLUDED.size}))
_blob_id = Statement(lambda digest: Blob.select(Blob.id).where(Blob.sha256 == digest))
_chunked = Statement(lambda blob: BlobChunk.select(BlobChunk.id).where(BlobChunk.blob == blob).limit(pw.SQL("1")))


def _upsert(digest: str, data: bytes, size: int) -> int:
    _put.cursor(digest, size, data)
    return _blob_id.scalar(digest)


def zip_members(data: bytes) -> list[tuple[int, int]]:
    """Where the compressed members of a zip file (a .docx, .xlsx …) of CHUNK_MIN bytes or more are in it, in
    order; [] for anything else, or a zip file whose directory does not match its members."""
    if not data.startswith(b"PK\x03\x04"):
        return []
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        ranges = []
        for info in infos:
            at = info.header_offset
            if data[at:at + 4] != b"PK\x03\x04":
                return []
            name, extra = struct.unpack_from("<HH", data, at + 26)
            start = at + 30 + name + extra
            if info.compress_size >= CHUNK_MIN and start + info.compress_size <= len(data):
                ranges.append((start, start + info.compress_size))
    except Exception:  # noqa: BLE001 - whatever a broken zip raises, it is kept whole
        return []
    ranges.sort()
    if any(a_end > b_start for (_, a_end), (b_start, _) in zip(ranges, ranges[1:])):
        return []
    return ranges


def _cut(data: bytes, ranges: list[tuple[int, int]]) -> tuple[bytes, list[tuple[int, bytes]]]:
    """`data` without these ranges, and each range's bytes with where it goes back in what is left."""
    kept, chunks, at, size = [], [], 0, 0
    for start, end in ranges:
        kept.append(data[at:start])
        size += start - at
        chunks.append((size, data[start:end]))
        at = end
    kept.append(data[at:])
    return b"".join(kept), chunks


def _join(data: bytes, chunks: list[tuple[int, bytes]]) -> bytes:
    out, at = [], 0
    for position, chunk in sorted(chunks, key=lambda c: c[0]):
        out += [data[at:position], chunk]
        at = position
    out.append(data[at:])
    return b"".join(out)


def _blobs(ids: Iterable[int]) -> dict[int, tuple[bytes, list[tuple[int, bytes]]]]:
    """The bytes of these blobs, each with its chunks and where they go back (whole(), with what is left of a zip
    file from the row when the row holds it)."""
    ids = sorted(set(ids))
    data: dict[int, bytes] = {}
    chunks: dict[int, list[tuple[int, int]]] = {}
    for chunk in limits.chunks(ids):
        data.update((i, bytes(b)) for i, b in Blob.select(Blob.id, Blob.data).where(Blob.id.in_(chunk)).tuples())
        for blob, position, piece in BlobChunk.select(BlobChunk.blob, BlobChunk.position, BlobChunk.chunk).where(
                BlobChunk.blob.in_(chunk)).tuples():
            chunks.setdefault(blob, []).append((position, piece))
    pieces: dict[int, bytes] = {}
    for chunk in limits.chunks(sorted({p for cs in chunks.values() for _, p in cs})):
        pieces.update((i, bytes(b)) for i, b in Blob.select(Blob.id, Blob.data).where(Blob.id.in_(chunk)).tuples())
    return {i: (b, [(position, pieces[p]) for position, p in chunks.get(i, ())]) for i, b in data.items()}


def _row_serial(row: Outbox, packed: dict[int, bytes]) -> bytes:
    if row.id in packed:
        return packed[row.id]
    data = bytes(row.data)
    if data.startswith(MAGIC):
        return zlib.decompress(data[len(MAGIC):])
    return _serial(data, [])            # the whole message, as releases before schema 5 stored it


def _packed(ids: list[int]) -> dict[int, bytes]:
    """The serials of those of these rows that are in packs, each pack decompressed once, as far as they need."""
    where: dict[int, tuple[int, int, int]] = {}
    for chunk in limits.chunks(ids):
        rows = PackedRow.select(PackedRow.outbox, PackedRow.pack, PackedRow.start, PackedRow.length).where(
            PackedRow.outbox.in_(chunk))
        for box, pack_id, start, length in rows.tuples():
            where[box] = (pack_id, start, length)
    ends: dict[int, int] = {}
    for p, start, length in where.values():
        ends[p] = max(ends.get(p, 0), start + length)
    packs: dict[int, bytes] = {}
    for chunk in limits.chunks(sorted(ends)):
        for pack_id, data in Pack.select(Pack.id, Pack.data).where(Pack.id.in_(chunk)).tuples():
            packs[pack_id] = lzma.LZMADecompressor().decompress(bytes(data), max_length=ends[pack_id])
    return {box: packs[p][start:start + length] for box, (p, start, length) in where.items()}


def messages(rows: Iterable[Outbox]) -> dict[int, bytes]:
    """The whole message of each outbox row, by row id, in a few queries."""
    rows = list(rows)
    parts: dict[int, list[tuple[int, int]]] = {}
    for chunk in limits.chunks([r.id for r in rows]):
        for box, position, blob in OutboxPart.select(OutboxPart.outbox, OutboxPart.position, OutboxPart.blob).where(
                OutboxPart.outbox.in_(chunk)).tuples():
            parts.setdefault(box, []).append((position, blob))
    blobs = _blobs(blob for ps in parts.values() for _, blob in ps)
    packed = _packed([r.id for r in rows])
    out = {}
    for r in rows:
        skeleton, texts, rests = _parse(_row_serial(r, packed))
        bodies = []
        for position, blob in parts.get(r.id, ()):
            data, chunks = blobs[blob]
            bodies.append((position, _join(rests.get(position, data), chunks)))
        out[r.id] = assemble(skeleton, texts + bodies)
    return out


def message(row: Outbox) -> bytes:
    return messages([row])[row.id]


def envelope(row: Outbox) -> tuple[str, list[str]]:
    """The envelope sender and recipients of an outbox row. A packed row leaves out those its mail's line in the
    收发记录 (Mail.sender, Mail.rcpts) holds the same of: an empty one stands for the mail's (pack)."""
    if row.mail_from and row.rcpts:
        return row.mail_from, list(row.rcpts)
    return row.mail_from or row.mail.sender, list(row.rcpts or row.mail.rcpts)


def not_packed() -> pw.Expression:
    """Outbox rows whose stored copy is not in a pack (a condition on Outbox)."""
    return ~pw.fn.EXISTS(PackedRow.select(PackedRow.id).where(PackedRow.outbox == Outbox.id))


def pack(ids: list[int]) -> int:
    """The sent rows `ids` (the mail of closed requests) compressed together into packs of up to PACK_MAX bytes
    before compression, in the order of the rows: their own data emptied, and their envelope where their mail holds
    the same (envelope()), those in a pack already taken out of it, and a pack left without rows deleted. Inside the
    caller's transaction; a row taken meanwhile (by another daemon's pack or prune) fails it, and nothing is changed.
    Returns the bytes saved."""
    rows = list(Outbox.select(Outbox.id, Outbox.data).where(Outbox.id.in_(ids) & (Outbox.state == "sent"))
                .order_by(Outbox.id))
    packed = _packed(ids)
    old = {p for (p,) in PackedRow.select(PackedRow.pack).where(PackedRow.outbox.in_(ids)).tuples()}
    if len(rows) != len(ids):
        raise LookupError(f"outbox rows {ids} are not all sent")
    before = sum(len(bytes(r.data)) for r in rows) + _packs_size(old)
    groups: list[list[tuple[int, bytes]]] = [[]]
    size = 0
    for r in rows:
        serial = _row_serial(r, packed)
        if groups[-1] and size + len(serial) > PACK_MAX:
            groups.append([])
            size = 0
        groups[-1].append((r.id, serial))
        size += len(serial)
    # the claim that kept two daemons from sending a row twice has done its work: a packed row keeps no trace of it
    emptied = Outbox.update(data=b"", claimed_by="", claimed_at=None).where(
        Outbox.id.in_(ids) & (Outbox.state == "sent") & not_packed()).execute()
    moved = PackedRow.delete().where(PackedRow.outbox.in_(ids)).execute()
    if emptied + moved != len(ids) or moved != len(packed):
        raise LookupError(f"outbox rows {ids} changed while being packed")
    # nor the envelope sender and recipients that its mail's line in the 收发记录 holds the same of (envelope())
    for column, of_mail, empty in ((Outbox.mail_from, Mail.sender, ""), (Outbox.rcpts, Mail.rcpts, [])):
        same = column == Mail.select(of_mail).where(Mail.id == Outbox.mail)
        Outbox.update({column: empty}).where(Outbox.id.in_(ids) & same).execute()
    after = 0
    for group in groups:
        p = Pack.create(data=_xz(b"".join(serial for _, serial in group)))
        after += len(bytes(p.data))
        places, at = [], 0
        for box, serial in group:
            places.append({"outbox": box, "pack": p.id, "start": at, "length": len(serial)})
            at += len(serial)
        PackedRow.insert_many(places).execute()
    if old:
        Pack.delete().where(Pack.id.in_(list(old)) & ~pw.fn.EXISTS(
            PackedRow.select(PackedRow.id).where(PackedRow.pack == Pack.id))).execute()
    return before - after - _packs_size(old)


def _xz(data: bytes) -> bytes:
    """xz at its strongest (extreme: a twentieth smaller for about 13 ms a request, once), with a dictionary no
    larger than the data nor than 256 KB: packs a fifth smaller than zlib makes them, in a few MB of memory (a
    larger dictionary finds nothing more in the mail of an office, where what repeats is the last request's)."""
    size = min(max(4096, 1 << max(len(data) - 1, 1).bit_length()), 1 << 18)
    return lzma.compress(data, filters=[{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME,
                                         "dict_size": size}])


def _packs_size(ids: set[int]) -> int:
    if not ids:
        return 0
    return Pack.select(pw.fn.SUM(pw.fn.LENGTH(Pack.data))).where(Pack.id.in_(list(ids))).scalar() or 0


def held(ids: list[int]) -> tuple[int, set[int], set[int]]:
    """What these outbox rows hold themselves (bytes), the blobs and the packs they refer to."""
    size, blobs, packs = 0, set(), set()
    for chunk in limits.chunks(ids):
        size += Outbox.select(pw.fn.SUM(pw.fn.LENGTH(Outbox.data))).where(Outbox.id.in_(chunk)).scalar() or 0
        blobs.update(b for (b,) in OutboxPart.select(OutboxPart.blob).where(OutboxPart.outbox.in_(chunk)).tuples())
        packs.update(p for (p,) in PackedRow.select(PackedRow.pack).where(PackedRow.outbox.in_(chunk)).tuples())
    return size, blobs, packs


def freed(blobs: Iterable[int], packs: Iterable[int], without: Iterable[int]) -> tuple[dict[int, int], dict[int, int],
                                                                                     dict[int, int]]:
    """Of these blobs (attachments) and packs, those no outbox row refers to once the rows `without` are gone, and
    the chunks of those blobs nothing else refers to; each with the bytes it takes."""
    gone = set(without)
    blobs, packs = sorted(set(blobs)), sorted(set(packs))
    used_packs = set()
    for chunk in limits.chunks(packs):
        used_packs.update(p for p, box in PackedRow.select(PackedRow.pack, PackedRow.outbox).where(
            PackedRow.pack.in_(chunk)).tuples() if box not in gone)
    free = _sizes(b for b in blobs if b not in _used(blobs, gone, set()))
    pieces = set()
    for chunk in limits.chunks(sorted(free)):
        pieces.update(p for (p,) in BlobChunk.select(BlobChunk.chunk).where(BlobChunk.blob.in_(chunk)).tuples())
    pieces -= set(free)
    chunks = _sizes(p for p in pieces if p not in _used(sorted(pieces), gone, set(free)))
    sizes = {}
    for chunk in limits.chunks([p for p in packs if p not in used_packs]):
        sizes.update(Pack.select(Pack.id, pw.fn.LENGTH(Pack.data)).where(Pack.id.in_(chunk)).tuples())
    return free, chunks, sizes


def _used(blobs: list[int], gone_rows: set[int], gone_blobs: set[int]) -> set[int]:
    """Those of these blobs an outbox row not in `gone_rows`, or a blob not in `gone_blobs`, refers to."""
    used = set()
    for chunk in limits.chunks(blobs):
        used.update(b for b, box in OutboxPart.select(OutboxPart.blob, OutboxPart.outbox).where(
            OutboxPart.blob.in_(chunk)).tuples() if box not in gone_rows)
        used.update(b for b, whole in BlobChunk.select(BlobChunk.chunk, BlobChunk.blob).where(
            BlobChunk.chunk.in_(chunk)).tuples() if whole not in gone_blobs)
    return used


def _sizes(blobs: Iterable[int]) -> dict[int, int]:
    out = {}
    for chunk in limits.chunks(sorted(set(blobs))):
        out.update(Blob.select(Blob.id, pw.fn.LENGTH(Blob.data)).where(Blob.id.in_(chunk)).tuples())
    return out


def drop(ids: list[int], blobs: Iterable[int], packs: Iterable[int]) -> None:
    """Delete the outbox rows `ids`, then those of these blobs (attachments first, then their chunks) and packs no
    row and no blob refers to any more; inside the caller's transaction."""
    for chunk in limits.chunks(ids):
        OutboxPart.delete().where(OutboxPart.outbox.in_(chunk)).execute()
        PackedRow.delete().where(PackedRow.outbox.in_(chunk)).execute()
        Outbox.delete().where(Outbox.id.in_(chunk)).execute()
    blobs = sorted(set(blobs))
    for _ in range(2):              # the attachments go first; their chunks are free after
        for chunk in limits.chunks(blobs):
            free = Blob.id.in_(chunk) & ~pw.fn.EXISTS(
                OutboxPart.select(OutboxPart.id).where(OutboxPart.blob == Blob.id)) & ~pw.fn.EXISTS(
                BlobChunk.select(BlobChunk.id).where(BlobChunk.chunk == Blob.id))
            BlobChunk.delete().where(BlobChunk.blob.in_(Blob.select(Blob.id).where(free))).execute()
            Blob.delete().where(free).execute()
    for chunk in limits.chunks(sorted(set(packs))):
        Pack.delete().where(Pack.id.in_(chunk) & ~pw.fn.EXISTS(
            PackedRow.select(PackedRow.id).where(PackedRow.pack == Pack.id))).execute()
