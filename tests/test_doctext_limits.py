"""Reading attachments stays bounded (zip bombs, huge files, slow readers) and reads what WPS Office and Excel
send (.doc, .wps, .et, .xlsx made by LibreOffice during the test run)."""

from __future__ import annotations

import io
import subprocess
import zipfile

import pytest

from daemon import doctext
from daemon.checks import check
from daemon.doctext import extract_text
from tests.samples_qingshi import TODAY, _docx, drafts, finish

REQUEST_LINES = ["关于购置办公设备的请示", "集团公司办公室：", "因业务需要，拟购置计算机10台。", "妥否，请批示。"]


def bomb_docx(unpacked: int = 100 * 1024 * 1024) -> bytes:
    """A .docx whose document.xml unpacks to `unpacked` bytes of paragraphs from well under 1 MB."""
    good = zipfile.ZipFile(io.BytesIO(_docx(REQUEST_LINES)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in good.infolist():
            if info.filename != "word/document.xml":
                z.writestr(info, good.read(info))
        para = b"<w:p><w:r><w:t>" + "重复的段落".encode() * 20 + b"</w:t></w:r></w:p>"
        head = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.'
                b'openxmlformats.org/wordprocessingml/2006/main"><w:body>')
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            f.write(head)
            count = unpacked // len(para)
            block = para * 4096           # written in blocks: a write per paragraph costs seconds per bomb
            for _ in range(count // 4096):
                f.write(block)
            f.write(para * (count % 4096))
            f.write(b"</w:body></w:document>")
    return out.getvalue()


def test_a_zip_bomb_is_not_unpacked_and_says_why():
    data = bomb_docx()
    assert len(data) < 1024 * 1024
    assert extract_text("关于购置办公设备的请示.docx", data) == (None, doctext.NOTE_LIMIT)


def test_a_bomb_in_the_request_gives_the_finding_and_the_check_goes_on():
    result = check("报送请示", "请审阅附件。", [("关于购置办公设备的请示.docx", bomb_docx())], TODAY)
    assert [f.rule for f in result.findings] == ["unreadable"]
    assert "附件过大或结构异常，未做格式检查" in result.findings[0].message


def test_too_many_bytes_are_not_read(monkeypatch):
    monkeypatch.setattr(doctext, "MAX_BYTES", 1000)
    assert extract_text("请示.pdf", b"%PDF-1.4" + b" " * 2000) == (None, doctext.NOTE_LIMIT)
    assert extract_text("请示.txt", "关于".encode() * 1000) == (None, doctext.NOTE_LIMIT)


def test_a_reader_over_its_time_budget_is_stopped(monkeypatch):
    monkeypatch.setattr(doctext, "INLINE_UNPACKED", 0)      # every .docx read by a child
    monkeypatch.setattr(doctext, "READ_SECONDS", 0.001)
    assert extract_text("请示.docx", _docx(REQUEST_LINES)) == (None, doctext.NOTE_LIMIT)


def test_a_reader_killed_by_its_memory_limit_gives_the_finding(monkeypatch):
    # the child itself: a reader that needs far more memory than allowed fails, not the daemon
    real_read = doctext.read

    def greedy(suffix, data, soffice="", limit=True):
        doctext._limit(doctext.READ_MEMORY, doctext.READ_SECONDS)
        block = bytearray(64 * 1024 * 1024)       # a fresh mapping, beyond any heap the daemon left free
        return f"{len(block)}", ""

    monkeypatch.setattr(doctext, "INLINE_UNPACKED", 0)
    monkeypatch.setattr(doctext, "read", greedy)
    monkeypatch.setattr(doctext, "READ_MEMORY", 8 * 1024 * 1024)
    assert extract_text("请示.docx", _docx(REQUEST_LINES)) == (None, doctext.NOTE_LIMIT)
    monkeypatch.setattr(doctext, "READ_MEMORY", 256 * 1024 * 1024)
    assert extract_text("请示.docx", _docx(REQUEST_LINES)) == (str(64 * 1024 * 1024), "")
    monkeypatch.setattr(doctext, "read", real_read)
    assert bytearray(64 * 1024 * 1024), "the daemon itself was not limited"


def test_the_reader_is_a_child_that_leaves_nothing_behind(monkeypatch):
    import os
    monkeypatch.setattr(doctext, "INLINE_UNPACKED", 0)
    before = set(os.listdir("/proc/self/task"))
    for _ in range(5):
        text, note = extract_text("请示.docx", _docx(REQUEST_LINES))
        assert note == "" and REQUEST_LINES[0] in text
    assert set(os.listdir("/proc/self/task")) == before
    assert not _zombie_children(), "every reader was waited for"


def _zombie_children() -> list[str]:
    import os
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            found.append(pid)
    return found


def test_the_check_reads_a_bounded_part_of_a_huge_body():
    body = "\n".join(REQUEST_LINES) + "\n" + "附注。" * 2_000_000
    result = check("关于购置办公设备的请示", body, [], TODAY)
    assert result.title == "关于购置办公设备的请示"


def test_xlsx_shared_and_inline_strings_and_numbers_are_read():
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("xl/sharedStrings.xml", f'<sst {ns}><si><t>品名</t></si><si><r><t>台式</t></r><r><t>计算机</t></r>'
                                           f'</si></sst>')
        z.writestr("xl/worksheets/sheet1.xml", f'<worksheet {ns}><sheetData><row><c t="s"><v>0</v></c>'
                   f'<c t="inlineStr"><is><t>数量</t></is></c></row><row><c t="s"><v>1</v></c><c><v>10</v></c>'
                   f'</row></sheetData></worksheet>')
    text, note = extract_text("清单.xlsx", out.getvalue())
    assert (text, note) == ("品名\t数量\n台式计算机\t10", "")


# ---------------------------------------------------------------- made by LibreOffice in the test run

@pytest.fixture(scope="module")
def soffice():
    binary = doctext.soffice_path()
    if binary is None:
        pytest.fail("LibreOffice is not installed: scripts/test.sh installs libreoffice-writer-nogui and "
                    "libreoffice-calc-nogui")
    return binary


def convert(soffice, tmp_path, source, target: str) -> bytes:
    csv = ["--infilter=CSV:44,34,76"] if source.suffix == ".csv" else []        # comma, quote, UTF-8
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless", *csv,
                    "--convert-to", target, "--outdir", str(tmp_path), str(source)], check=True, timeout=180,
                   capture_output=True)
    return source.with_suffix("." + target.split(":")[0]).read_bytes()


@pytest.mark.parametrize("suffix", [".doc", ".wps"])
def test_doc_and_wps_from_wps_office_are_read(soffice, tmp_path, suffix):
    """WPS Office saves .wps in the Word 97 format; LibreOffice reads it by its content."""
    d = finish(drafts()["equipment"])
    source = tmp_path / "q.docx"
    source.write_bytes(_docx(d.lines()))
    data = convert(soffice, tmp_path, source, "doc")
    text, note = extract_text("关于购置办公设备的请示" + suffix, data)
    assert note == "" and "关于购置办公设备的请示" in text
    result = check("报送", "请审阅附件。", [("关于购置办公设备的请示" + suffix, data)] + d.annexes, TODAY)
    assert result.findings == () and result.title == "关于购置办公设备的请示"


@pytest.mark.parametrize("target, suffix", [("xlsx", ".xlsx"), ("xls", ".et")])
def test_spreadsheets_from_excel_and_wps_are_read(soffice, tmp_path, target, suffix):
    source = tmp_path / "list.csv"
    source.write_text("品名,数量,金额\n台式计算机,10,60000\n", encoding="utf-8")
    data = convert(soffice, tmp_path, source, target)
    text, note = extract_text("购置清单" + suffix, data)
    assert note == "" and "台式计算机" in text and "60000" in text


def test_a_mail_reads_a_bounded_number_of_attachments_in_a_bounded_time():
    from daemon.checks import _candidates
    many = [(f"附件{i}.txt", "关于".encode()) for i in range(doctext.MAX_ATTACHMENTS + 5)]
    found, notes = _candidates("", many)
    assert len(found) == 1 + doctext.MAX_ATTACHMENTS
    assert [note for _, note in notes] == [doctext.NOTE_LIMIT] * 5
    assert extract_text("请示.docx", _docx(REQUEST_LINES), budget=0) == (None, doctext.NOTE_LIMIT)


def test_only_a_small_office_file_is_read_without_a_child(monkeypatch):
    """A child costs more than reading a small .docx; anything larger, and every PDF, goes to one."""
    forks = []
    real = doctext._in_child
    monkeypatch.setattr(doctext, "_in_child", lambda *a, **k: forks.append(a[1]) or real(*a, **k))
    small = _docx(REQUEST_LINES)
    assert extract_text("请示.docx", small)[0] and forks == []
    big = _docx(REQUEST_LINES + ["附注：" + "办公设备购置明细。" * 40] * 1500)
    assert doctext.check_zip(big) > doctext.INLINE_UNPACKED
    assert extract_text("请示.docx", big)[0] and forks == [".docx"]
