"""daemon.mailstore: outgoing mail stored once and rebuilt byte for byte (attachments by sha256, texts compressed,
closed requests packed), what prune may drop, and a kill -9 at any moment leaving every queued mail sendable."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon import compose, mailstore, models
from daemon.models import Blob, BlobChunk, Mail, Outbox, OutboxPart, Pack, PackedRow
from daemon.outbox import Attach

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HEADERS = [("From", "office@example.test"), ("To", "li@example.test"), ("Subject", "【办请〔2026〕7号】请审批：关于购置办公设备的请示"),
           ("Message-ID", "<of.1@example.test>"), ("Auto-Submitted", "auto-generated")]
TEXT = "李副总：\n    请审批办请〔2026〕7号。\n" * 20
HTML = "<p>李副总：</p><table><tr><td>拟办意见</td><td>拟同意</td></tr></table>\n" * 20


@pytest.fixture
def db(tmp_path):
    models.connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield models
    models.close()


@pytest.fixture
def fixed_boundaries(monkeypatch):
    """compose's boundaries from a counter, so that a message composed twice comes out the same."""
    counter = itertools.count()

    def reset():
        nonlocal counter
        counter = itertools.count()

    monkeypatch.setattr(compose.secrets, "token_hex", lambda n: f"{next(counter):0{2 * n}x}")
    return reset


def _queue(headers=HEADERS, text=TEXT, html=HTML, attachments=(), state="queued") -> Outbox:
    mail = Mail.create(direction="out", message_id=f"{uuid.uuid4().hex}@example.test", kind="approval", at=NOW)
    return mailstore.store(mail, "office@example.test", ["li@example.test"],
                           compose.compose_split(headers, text, html, list(attachments)), next_attempt_at=NOW,
                           state=state)


def _zip(member: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        styles = "".join(f'<w:style w:styleId="s{i}" w:name="{i * 7919 % 10007}"/>' for i in range(300))
        for name, text in (("word/document.xml", member), ("word/styles.xml", styles)):
            z.writestr(zipfile.ZipInfo(name, date_time=(2026, 11, 26, 9, 0, 0)), text, zipfile.ZIP_DEFLATED)
    return buf.getvalue()


ATTACHMENTS = [Attach("办公设备购置清单.docx", DOCX, _zip("清单")),
               Attach("报价单.pdf", "application/pdf", random.Random(7).randbytes(5000))]


@pytest.mark.parametrize("text, html, attachments", [
    ("plain ascii\n", "<p>ascii</p>\n", []),                        # 7bit parts: nothing left out
    (TEXT, HTML, []),
    (TEXT, HTML, ATTACHMENTS),
    (TEXT, "<p>x</p>", [ATTACHMENTS[0], ATTACHMENTS[0]]),            # the same file twice in one mail
    ("", "", [Attach("empty.bin", "application/octet-stream", b"")]),
])
def test_a_stored_message_is_rebuilt_byte_for_byte(db, fixed_boundaries, text, html, attachments):
    fixed_boundaries()
    expected = compose.compose(HEADERS, text, html, attachments)
    fixed_boundaries()
    row = _queue(text=text, html=html, attachments=attachments)
    assert mailstore.message(Outbox.get_by_id(row.id)) == expected
    assert bytes(row.data).startswith(mailstore.MAGIC)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(), html=st.text(), files=st.lists(st.binary(max_size=3000), max_size=3))
def test_any_message_is_rebuilt_byte_for_byte(db, fixed_boundaries, text, html, files):
    attachments = [Attach(f"附件{i}.bin", "application/octet-stream", data) for i, data in enumerate(files)]
    fixed_boundaries()
    expected = compose.compose(HEADERS, text, html, attachments)
    fixed_boundaries()
    row = _queue(text=text, html=html, attachments=attachments)
    assert mailstore.message(row) == expected


def test_an_attachment_is_stored_once_however_many_mails_carry_it(db):
    rows = [_queue(attachments=ATTACHMENTS) for _ in range(5)]
    assert Blob.select().count() == 3, "the docx and its styles, a chunk of their own, and the pdf"
    assert OutboxPart.select().count() == 10 and BlobChunk.select().count() == 1
    attachments = {p.blob_id for p in OutboxPart.select()}
    assert {b.size for b in Blob.select().where(Blob.id.in_(list(attachments)))} == {len(a.data) for a in ATTACHMENTS}
    whole = mailstore.messages(rows)
    attached = sum(len(a.data) for a in ATTACHMENTS)
    assert all(len(bytes(r.data)) < 2000 < attached for r in rows)     # compressed texts, no attachment
    assert all(len(m) > attached for m in whole.values())


def test_a_row_of_an_older_release_is_its_whole_message(db):
    mail = Mail.create(direction="out", message_id="old@example.test", kind="approval", at=NOW)
    data = compose.compose(HEADERS, TEXT, HTML, ATTACHMENTS)
    row = Outbox.create(mail=mail, mail_from="office@example.test", rcpts=["li@example.test"], data=data,
                        next_attempt_at=NOW)
    assert mailstore.message(row) == data
    Outbox.update(state="sent").where(Outbox.id == row.id).execute()
    mailstore.pack([row.id])
    assert mailstore.message(Outbox.get_by_id(row.id)) == data


def test_packed_rows_are_rebuilt_the_same_and_hold_nothing_themselves(db):
    rows = [_queue(attachments=ATTACHMENTS[:i], state="sent") for i in range(3)]
    Outbox.update(claimed_by="host:1:ab", claimed_at=NOW).execute()
    before = mailstore.messages(rows)
    saved = mailstore.pack([r.id for r in rows])
    rows = list(Outbox.select())
    assert saved > 0 and all(bytes(r.data) == b"" for r in rows)
    assert all(r.claimed_by == "" and r.claimed_at is None for r in rows), "no claim kept once packed"
    assert Pack.select().count() == 1 and PackedRow.select().count() == 3
    assert mailstore.messages(rows) == before

    late = _queue(attachments=ATTACHMENTS, state="sent")              # mail sent after the request was packed
    before[late.id] = mailstore.message(late)
    first = Pack.get()
    mailstore.pack([r.id for r in rows] + [late.id])
    assert list(Pack.select()) == [Pack.get(Pack.id != first.id)], "one pack again, the old one gone"
    assert PackedRow.select().count() == 4 and mailstore.messages(Outbox.select()) == before

    queued = _queue()
    with pytest.raises(LookupError):
        mailstore.pack([late.id, queued.id])                          # not sent yet
    assert PackedRow.select().count() == 4 and mailstore.messages(Outbox.select().where(Outbox.id != queued.id)) \
        == before


def test_a_packed_row_leaves_out_the_envelope_its_mail_holds_the_same_of_and_gives_it_back(db):
    """The sender and recipients of a packed row are those of its line in the 收发记录 when these are the same: the
    row keeps none of them, and envelope() gives them back from the mail. A row whose envelope differs keeps it."""
    rows = [_queue(attachments=ATTACHMENTS[:1], state="sent") for _ in range(3)]
    Mail.update(sender="office@example.test", rcpts=["li@example.test"]).where(Mail.id == rows[0].mail_id).execute()
    Mail.update(sender="office@example.test", rcpts=["li@example.test", "wang@example.test"]).where(
        Mail.id == rows[1].mail_id).execute()
    Mail.update(sender="noreply@example.test", rcpts=["li@example.test"]).where(Mail.id == rows[2].mail_id).execute()
    before = mailstore.messages(rows)
    envelopes = {r.id: mailstore.envelope(Outbox.get_by_id(r.id)) for r in rows}
    assert list(envelopes.values()) == [("office@example.test", ["li@example.test"])] * 3
    mailstore.pack([r.id for r in rows])
    kept = {r.id: (r.mail_from, r.rcpts) for r in Outbox.select().order_by(Outbox.id)}
    assert list(kept.values()) == [("", []), ("", ["li@example.test"]), ("office@example.test", [])]
    assert {r.id: mailstore.envelope(Outbox.get_by_id(r.id)) for r in rows} == envelopes
    assert mailstore.messages(Outbox.select()) == before
    mailstore.pack([r.id for r in rows])                # packed again with later mail: nothing else goes
    assert {r.id: mailstore.envelope(r) for r in Outbox.select()} == envelopes


def test_what_is_left_of_a_zip_file_goes_in_each_row_and_its_members_in_blobs(db, fixed_boundaries):
    form = Attach("审批单.docx", DOCX, _zip("办请〔2026〕7号"))
    fixed_boundaries()
    expected = compose.compose(HEADERS, TEXT, HTML, [form])
    fixed_boundaries()
    rows = [_queue(attachments=[form]) for _ in range(2)]
    whole = Blob.get(Blob.sha256 == hashlib.sha256(form.data).hexdigest())
    assert bytes(whole.data) == b"" and whole.size == len(form.data), "its headers are in the rows"
    assert BlobChunk.select().count() == 1
    assert mailstore.messages(rows)[rows[0].id] == expected
    Outbox.update(state="sent").execute()
    mailstore.pack([r.id for r in rows])
    assert mailstore.messages(Outbox.select())[rows[0].id] == expected


def test_a_zip_file_stored_whole_in_its_blob_by_an_older_release_still_rebuilds(db, fixed_boundaries):
    """Schema 5 and 6 kept what is left of a zip file in its blob; rows written since refer to the same blob."""
    form = Attach("审批单.docx", DOCX, _zip("办请〔2026〕8号"))
    fixed_boundaries()
    expected = compose.compose(HEADERS, TEXT, HTML, [form])
    fixed_boundaries()
    skeleton, holes = compose.compose_split(HEADERS, TEXT, HTML, [form])
    stripped, chunks = mailstore._cut(form.data, mailstore.zip_members(form.data))
    blob = Blob.create(sha256=hashlib.sha256(form.data).hexdigest(), size=len(form.data), data=stripped)
    for position, chunk in chunks:
        piece = Blob.create(sha256=hashlib.sha256(chunk).hexdigest(), size=len(chunk), data=chunk)
        BlobChunk.create(blob=blob, position=position, chunk=piece)
    mail = Mail.create(direction="out", message_id="old@example.test", kind="approval", at=NOW)
    texts = [(h.offset, h.data) for h in holes if h.index is None]
    old = Outbox.create(mail=mail, mail_from="office@example.test", rcpts=["li@example.test"], next_attempt_at=NOW,
                        data=mailstore.MAGIC + mailstore.zlib.compress(mailstore._serial(skeleton, texts)))
    OutboxPart.create(outbox=old, position=[h.offset for h in holes if h.index == 0][0], blob=blob)
    fixed_boundaries()
    new = _queue(attachments=[form])
    assert Blob.select().count() == 2 and bytes(Blob.get_by_id(blob.id).data) == stripped
    assert list(mailstore.messages([old, new]).values()) == [expected, expected]


def test_the_mail_of_many_requests_goes_into_packs_of_a_bounded_size(db, monkeypatch):
    rows = [_queue(text=TEXT + str(i), attachments=ATTACHMENTS, state="sent") for i in range(6)]
    before = mailstore.messages(rows)
    size = len(mailstore._row_serial(Outbox.get_by_id(rows[0].id), {}))
    monkeypatch.setattr(mailstore, "PACK_MAX", 2 * size + 1)
    assert mailstore.pack([r.id for r in rows]) > 0
    assert Pack.select().count() == 3 and PackedRow.select().count() == 6
    assert mailstore.messages(Outbox.select()) == before
    assert mailstore.message(Outbox.get_by_id(rows[2].id)) == before[rows[2].id]


def test_what_prune_drops_is_only_what_no_other_stored_mail_refers_to(db):
    shared, own = ATTACHMENTS
    closed = [_queue(attachments=[shared, own], state="sent") for _ in range(2)]
    still_open = _queue(attachments=[shared], state="sent")
    mailstore.pack([r.id for r in closed])
    ids = [r.id for r in closed]

    stored = Blob.select().count()
    assert stored == 3, "the docx (its styles a chunk of their own) and the pdf"

    size, digests, packs = mailstore.held(ids)
    blobs, chunks, packs = mailstore.freed(digests, packs, without=ids)
    assert set(blobs) == {_blob_id(own.data)} and not chunks and len(packs) == 1
    assert size == 0                                                  # packed rows hold nothing themselves
    mailstore.drop(ids, [*blobs, *chunks], packs)
    assert Blob.select().count() == stored - 1 and Pack.select().count() == 0 and PackedRow.select().count() == 0
    assert Outbox.select().count() == 1
    assert shared.data in _attachments(mailstore.message(still_open))

    size, digests, packs = mailstore.held([still_open.id])
    blobs, chunks, packs = mailstore.freed(digests, packs, without=[still_open.id])
    assert size > 0 and list(blobs) == [_blob_id(shared.data)] and len(chunks) == 1 and not packs
    rest = len(shared.data) - sum(chunks.values())          # the zip's headers, in the row rather than in the blob
    assert sum(blobs.values()) == 0 and 0 < rest < len(shared.data) // 4
    mailstore.drop([still_open.id], [*blobs, *chunks], packs)
    assert Blob.select().count() == 0 and OutboxPart.select().count() == 0 and BlobChunk.select().count() == 0


def _blob_id(data: bytes) -> int:
    return Blob.get(Blob.sha256 == hashlib.sha256(data).hexdigest()).id


def _attachments(raw: bytes) -> list[bytes]:
    from daemon import mime
    return [a.data for a in mime.parse(raw).attachments]


# -- kill -9 at any moment -----------------------------------------------------------------------------------

CHILD = """
import sys
sys.path.insert(0, {repo!r})
sys.path.insert(0, {tests!r})
from test_mailstore import ATTACHMENTS, _queue
from daemon import mailstore, models
from daemon.models import Outbox
models.connect({url!r})
print("ready", flush=True)
n = 0
while True:
    n += 1
    with models.db.atomic():
        row = _queue(attachments=[ATTACHMENTS[0], type(ATTACHMENTS[0])("n.bin", "application/octet-stream",
                                                                         str(n).encode() * 3000)])
        if n % 3 == 0:
            Outbox.update(state="sent").where(Outbox.id < row.id).execute()
            sent = [r.id for r in Outbox.select(Outbox.id).where((Outbox.state == "sent") & mailstore.not_packed())]
            if len(sent) > 1:
                mailstore.pack(sent)
"""


@pytest.mark.slow
def test_a_kill_at_any_moment_leaves_every_stored_mail_whole(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    for delay in (0.05, 0.2, 0.37, 0.5, 0.81):
        child = subprocess.Popen([sys.executable, "-c", CHILD.format(repo=str(REPO), tests=str(REPO / "tests"),
                                                                     url=url)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        models.connect(url)
        try:
            rows = list(Outbox.select())
            assert rows, "the child queued something"
            whole = mailstore.messages(rows)
            for row in rows:
                files = _attachments(whole[row.id])
                assert files[0] == ATTACHMENTS[0].data and len(files[1]) >= 3000
            referenced = {p.blob_id for p in OutboxPart.select()} | {c.chunk_id for c in BlobChunk.select()}
            assert referenced == {b.id for b in Blob.select()}, "no blob lost, none left behind"
            assert BlobChunk.select().count() == 1, "the docx's styles, once"
            assert {p.pack_id for p in PackedRow.select()} == {p.id for p in Pack.select()}
        finally:
            models.close()


# -- PostgreSQL: a prune and a new mail carrying the same attachment at the same moment ----------------------

def test_on_postgresql_an_attachment_taken_up_again_survives_a_prune_at_the_same_moment(pgserver, monkeypatch):
    """A prune finds an attachment no stored mail refers to while another daemon queues a mail carrying it, and
    deletes it between the queueing's keeping of the blob and its reference to it. The keeping locked the
    blob's row, so the prune's delete waits, then fails on the new reference and changes nothing; the mail
    is queued with its attachment."""
    import peewee as pw
    models.connect(pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}"))
    try:
        old = _queue(attachments=ATTACHMENTS[:1], state="sent")
        stored, failed, rows = threading.Event(), [], []
        keep = mailstore._keep

        def slow_keep(digest, data):
            blob = keep(digest, data)
            stored.set()
            time.sleep(1.0)                 # the prune deletes the blob now
            return blob

        def queue_again():
            with models.db.atomic():
                rows.append(_queue(attachments=ATTACHMENTS[:1]))

        monkeypatch.setattr(mailstore, "_keep", slow_keep)

        def prune():
            stored.wait(10)
            try:
                with models.db.atomic():
                    size, digests, packs = mailstore.held([old.id])
                    blobs, chunks, packs = mailstore.freed(digests, packs, without=[old.id])
                    assert len(blobs) == 1, "the new reference is not committed yet: the blob looks free"
                    mailstore.drop([old.id], [*blobs, *chunks], packs)
            except pw.IntegrityError as e:
                failed.append(e)

        threads = [threading.Thread(target=queue_again), threading.Thread(target=prune)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert failed, "the prune cannot delete a blob a committed mail refers to"
        assert Outbox.select().count() == 2, "the failed prune changed nothing"
        assert _attachments(mailstore.message(Outbox.get_by_id(rows[0].id))) == [ATTACHMENTS[0].data]
    finally:
        models.close()


# -- the daemon packs a backlog a batch a round ----------------------------------------------------------------

def test_a_backlog_of_closed_requests_is_packed_a_batch_a_round(tmp_path, monkeypatch):
    from test_intake_edges import BODY, World

    from daemon import chase
    from daemon.models import Job
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-26T09:00:00+08:00")
    monkeypatch.setenv("OFFICEFLOW_TEST_PASSWORD", "x")
    world = World(tmp_path)
    try:
        for thing in ("饮水机", "档案柜", "办公设备"):
            world.send("unit1@t.test", f"关于购置{thing}的请示", BODY.replace("办公设备", thing))
            receipt = world.last_to("unit1@t.test", thing)
            world.send("unit1@t.test", "回复：" + receipt.subject, "撤回", reply_to=receipt)
        Outbox.update(state="sent").execute()
        whole = mailstore.messages(Outbox.select())
        monkeypatch.setattr(chase, "COMPACT_BATCH", 2)

        assert chase.run_storage(world.app)
        assert Pack.select().count() == 1 and not Job.select().where(Job.name == "compact-2026-11-26").exists()
        assert len({r.outbox.mail.request_id for r in PackedRow.select()}) == 2, "two requests in one pack"
        assert chase.run_storage(world.app)
        assert Pack.select().count() == 2 and Job.select().where(Job.name == "compact-2026-11-26").exists()
        assert not chase.run_storage(world.app), "done for the day"
        assert mailstore.messages(Outbox.select()) == whole
        assert all(bytes(r.data) == b"" for r in Outbox.select())
    finally:
        models.close()


def test_on_postgresql_mail_is_stored_packed_and_dropped_the_same(pgserver, fixed_boundaries):
    models.connect(pgserver.create_database(f"of_{uuid.uuid4().hex[:12]}"))
    try:
        fixed_boundaries()
        expected = [compose.compose(HEADERS, TEXT, HTML, ATTACHMENTS[:i]) for i in range(3)]
        fixed_boundaries()
        rows = [_queue(attachments=ATTACHMENTS[:i], state="sent") for i in range(3)]
        assert list(mailstore.messages(rows).values()) == expected
        assert Blob.select().count() == 3 and BlobChunk.select().count() == 1
        assert mailstore.pack([r.id for r in rows]) > 0
        assert list(mailstore.messages(Outbox.select().order_by(Outbox.id)).values()) == expected
        ids = [r.id for r in rows]
        size, blobs, packs = mailstore.held(ids)
        blobs, chunks, packs = mailstore.freed(blobs, packs, without=ids)
        assert (size, len(blobs), len(chunks), len(packs)) == (0, 2, 1, 1)
        mailstore.drop(ids, [*blobs, *chunks], packs)
        assert not Blob.select().exists() and not Pack.select().exists() and not Outbox.select().exists()
    finally:
        models.close()
