"""Plain text out of the documents units attach (.docx, .pdf, .txt, .doc/.wps); never judges the text."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

NOTE_FORMAT = "附件格式无法自动审查，建议以 .docx 报送"
NOTE_SCAN = "扫描件无法读取文字，建议以 .docx 报送或附带文字层的 PDF"
NOTE_IMAGE = "图片（扫描件）无法读取文字，建议以 .docx 报送"
NOTE_BROKEN = "附件无法打开，可能已损坏，请重新报送"
NOTE_ENCRYPTED = "附件已加密，无法自动审查，请报送未加密的文件"

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".webp"}
CONVERTIBLE_SUFFIXES = {".doc", ".wps", ".rtf", ".odt", ".wpt", ".dot"}
TEXT_SUFFIXES = {".docx", ".pdf", ".txt"} | CONVERTIBLE_SUFFIXES
CONVERT_TIMEOUT = 60  # seconds for one LibreOffice conversion


def extract_text(filename: str, data: bytes) -> tuple[str | None, str]:
    """Return (text, "") when the document was read, else (None, a note in Chinese saying why)."""
    suffix = Path(filename or "").suffix.lower()
    try:
        if suffix == ".docx":
            return _nonempty(docx_text(data), NOTE_SCAN)
        if suffix == ".pdf":
            return pdf_text(data)
        if suffix == ".txt":
            return _nonempty(decode_text(data), NOTE_BROKEN)
        if suffix in CONVERTIBLE_SUFFIXES:
            return convert_and_read(filename, data)
        if suffix in IMAGE_SUFFIXES:
            return None, NOTE_IMAGE
    except Exception as exc:  # a broken file must never stop the check
        log.info("cannot read attachment %r: %s", filename, exc)
        return None, NOTE_BROKEN
    return None, NOTE_FORMAT


def _nonempty(text: str, note: str) -> tuple[str | None, str]:
    return (text, "") if text.strip() else (None, note)


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM) first, then GB18030, which covers GB2312 and GBK."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def docx_text(data: bytes) -> str:
    """Paragraphs and table cells in document order, one paragraph a line."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, document).text)
        elif tag == "tbl":
            for row in Table(child, document).rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    lines.extend(p.text for p in cell.paragraphs)
    return "\n".join(lines)


def pdf_text(data: bytes) -> tuple[str | None, str]:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception:
            return None, NOTE_ENCRYPTED
    pages = [page.extract_text() or "" for page in reader.pages]
    return _nonempty("\n".join(pages), NOTE_SCAN)


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_and_read(filename: str, data: bytes) -> tuple[str | None, str]:
    """.doc/.wps and kin: convert to .docx with a headless LibreOffice in a private temp dir."""
    binary = soffice_path()
    if binary is None:
        return None, NOTE_FORMAT
    with tempfile.TemporaryDirectory(prefix="officeflow-doc-") as tmp:
        source = Path(tmp) / ("input" + Path(filename).suffix.lower())
        source.write_bytes(data)
        profile = Path(tmp) / "profile"
        command = [binary, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                   "--convert-to", "docx", "--outdir", tmp, str(source)]
        try:
            subprocess.run(command, capture_output=True, timeout=CONVERT_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("LibreOffice conversion of %r failed: %s", filename, exc)
            return None, NOTE_FORMAT
        converted = source.with_suffix(".docx")
        if not converted.exists():
            return None, NOTE_FORMAT
        return _nonempty(docx_text(converted.read_bytes()), NOTE_SCAN)
