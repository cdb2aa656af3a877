"""Text out of attachments: .docx with tables, .pdf with and without a text layer, .txt encodings, .doc/.wps."""

from __future__ import annotations

import io
import os
from datetime import date
from pathlib import Path

import pytest

from daemon import doctext
from daemon.checks import check
from daemon.doctext import extract_text
from tests.samples_qingshi import TODAY, _docx, cjk_font, drafts, finish


def test_docx_paragraphs_and_tables_in_order():
    import docx

    document = docx.Document()
    document.add_paragraph("关于购置办公设备的请示")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "品名", "数量"
    table.cell(1, 0).text, table.cell(1, 1).text = "台式电脑", "20台"
    document.add_paragraph("妥否，请批示。")
    buffer = io.BytesIO()
    document.save(buffer)
    text, note = extract_text("请示.DOCX", buffer.getvalue())
    assert note == ""
    lines = text.split("\n")
    assert lines[0] == "关于购置办公设备的请示" and lines[-1] == "妥否，请批示。"
    assert lines.index("台式电脑") < lines.index("20台") < lines.index("妥否，请批示。")


def test_a_small_docx_is_opened_once_for_its_check_and_its_text(monkeypatch):
    import docx

    document = docx.Document()
    document.add_paragraph("关于购置办公设备的请示")
    buffer = io.BytesIO()
    document.save(buffer)
    opened = []
    real = doctext.zipfile.ZipFile
    monkeypatch.setattr(doctext.zipfile, "ZipFile", lambda *a, **k: opened.append(1) or real(*a, **k))
    assert extract_text("请示.docx", buffer.getvalue()) == ("关于购置办公设备的请示", "")
    assert len(opened) == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_txt_in_common_encodings(encoding):
    text, note = extract_text("请示.txt", "关于购置办公设备的请示\n集团公司：".encode(encoding))
    assert text == "关于购置办公设备的请示\n集团公司：" and note == ""


def need_font():
    if cjk_font() is None:
        if os.environ.get("CI"):
            pytest.fail("no CJK font for the PDF tests; install fonts-wqy-microhei")
        pytest.skip("no CJK font on this machine (install fonts-wqy-microhei)")


def test_pdf_with_a_text_layer():
    need_font()
    from tests.samples_qingshi import _pdf
    text, note = extract_text("请示.pdf", _pdf(["关于购置办公设备的请示", "集团公司："]))
    assert note == "" and "关于购置办公设备的请示" in text and "集团公司：" in text


def test_scanned_pdf_says_it_cannot_be_read():
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 150, style="F")  # a page that is only a picture
    text, note = extract_text("扫描件.pdf", bytes(pdf.output()))
    assert text is None and "扫描件无法读取文字" in note


@pytest.mark.parametrize("name, data, words", [
    ("请示.jpg", b"\xff\xd8\xff\xe0", "扫描件"),
    ("请示.xlsx", b"PK\x03\x04", "无法打开"),
    ("请示.zip", b"PK\x03\x04", "附件格式无法自动审查，建议以 .docx 报送"),
    ("请示", b"whatever", "附件格式无法自动审查"),
    ("请示.docx", b"not a zip at all", "无法打开"),
    ("请示.pdf", b"%PDF-1.4 truncated", "无法"),
])
def test_unreadable_attachments_get_a_chinese_note(name, data, words):
    text, note = extract_text(name, data)
    assert text is None and words in note


@pytest.mark.parametrize("name", ["请示.doc", "请示.wps", "清单.et"])
def test_doc_wps_et_without_libreoffice_say_what_to_install(monkeypatch, name):
    monkeypatch.setattr(doctext, "soffice_path", lambda: None)
    assert extract_text(name, b"\xd0\xcf\x11\xe0") == (None, doctext.NOTE_NO_OFFICE)
    assert "apt-get install libreoffice-writer-nogui libreoffice-calc-nogui" in doctext.NOTE_NO_OFFICE


def test_doc_converted_with_libreoffice(soffice, tmp_path):
    import subprocess
    d = finish(drafts()["equipment"])
    source = tmp_path / "q.docx"
    source.write_bytes(_docx(d.lines()))
    subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'p').as_uri()}", "--headless",
                    "--convert-to", "doc", "--outdir", str(tmp_path), str(source)], check=True, timeout=120,
                   capture_output=True)
    text, note = extract_text("关于购置办公设备的请示.doc", (tmp_path / "q.doc").read_bytes())
    assert note == "" and "关于购置办公设备的请示" in text
    result = check("报送", "请审阅附件。", [("关于购置办公设备的请示.doc", (tmp_path / "q.doc").read_bytes())] + d.annexes,
                   TODAY)
    assert result.findings == ()


def test_the_model_layout_passes_the_check():
    model = Path(__file__).resolve().parent.parent / "templates" / "guide" / "model.txt"
    text = model.read_text(encoding="utf-8")
    layout = text.split("拟写要点")[0]
    assert "关于购置办公设备的请示" in layout and "妥否，请批示。" in layout
    result = check("请示", layout, [("购置清单.xlsx", b"PK"), ("报价单.xlsx", b"PK")], date(2026, 11, 28))
    assert result.findings == () and result.title == "关于购置办公设备的请示"


def _python_docx_text(data: bytes) -> str:
    """The body read out of python-docx's whole package, as docx_text did before it read the main part alone."""
    import docx

    document = docx.Document(io.BytesIO(data))
    return doctext.body_text(document.element.body, document)


def _rezip(data: bytes, change) -> bytes:
    import zipfile
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            name, content = change(info.filename, src.read(info.filename))
            if name:
                dst.writestr(name, content)
    return out.getvalue()


def _rich_docx() -> bytes:
    import docx

    document = docx.Document()
    p = document.add_paragraph("关于购置")
    p.add_run("办公设备").add_tab()
    p.add_run("的请示").add_break()
    table = document.add_table(rows=3, cols=3)
    table.cell(0, 0).merge(table.cell(0, 2)).text = "合并的表头"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "纵向合并"
    table.cell(1, 1).text, table.cell(2, 2).text = "台式电脑", "20台"
    document.add_paragraph("妥否，请批示。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_text_reads_as_python_docx_does():
    from tests.samples_qingshi import samples as qingshi
    samples = [_rich_docx()] + [data for s in qingshi(("docx",)) for name, data in s.attachments
                                if name.lower().endswith(".docx")]
    assert len(samples) > 5
    for data in samples:
        assert doctext.docx_text(data) == _python_docx_text(data)


def test_docx_main_part_found_where_the_package_says():
    moved = _rezip(_rich_docx(), lambda name, content: (
        "word/main.xml" if name == "word/document.xml" else name,
        content.replace(b"/word/document.xml", b"/word/main.xml").replace(b'Target="word/document.xml"',
                                                                        b'Target="word/main.xml"')))
    assert doctext.docx_text(moved) == _python_docx_text(_rich_docx())


def test_a_macro_document_named_docx_is_still_refused():
    docm = _rezip(_rich_docx(), lambda name, content: (name, content.replace(
        b"wordprocessingml.document.main+xml", b"ms-word.document.macroEnabled.main+xml")
        if name == "[Content_Types].xml" else content))
    text, note = extract_text("请示.docx", docm)
    assert text is None and note == doctext.NOTE_BROKEN
