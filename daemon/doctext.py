"""Plain text out of the documents units attach (.docx, .xlsx, .pdf, .txt; .doc/.wps/.et through LibreOffice);
never judges the text.

An attachment is read in a child process with CPU, memory and wall-clock limits, after cheap checks of its
size and (for zip-based formats) of what it would unpack to: a zip bomb or a pathological PDF costs a finding,
never a stall or the machine's memory.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import posixpath
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger(__name__)

NOTE_FORMAT = "附件格式无法自动审查，建议以 .docx 报送"
NOTE_SCAN = "扫描件无法读取文字，建议以 .docx 报送或附带文字层的 PDF"
NOTE_IMAGE = "图片（扫描件）无法读取文字，建议以 .docx 报送"
NOTE_BROKEN = "附件无法打开，可能已损坏，请重新报送"
NOTE_ENCRYPTED = "附件已加密，无法自动审查，请报送未加密的文件"
NOTE_LIMIT = "附件过大或结构异常，未做格式检查"
NOTE_NO_OFFICE = ("本机未安装 LibreOffice，无法读取 .doc、.wps、.et 等格式，未做格式检查；请系统管理员安装"
                  "（Debian/Ubuntu：apt-get install libreoffice-writer-nogui libreoffice-calc-nogui）")

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".webp"}
CONVERTIBLE_SUFFIXES = {".doc", ".wps", ".rtf", ".odt", ".wpt", ".dot"}     # to .docx
SHEET_SUFFIXES = {".et", ".ett", ".xls", ".ods"}                            # to .xlsx
ZIP_SUFFIXES = {".docx", ".xlsx"}
TEXT_SUFFIXES = {".docx", ".pdf", ".txt"} | CONVERTIBLE_SUFFIXES    # where a 请示 may be written
READABLE_SUFFIXES = TEXT_SUFFIXES | SHEET_SUFFIXES | {".xlsx"}

# Limits of one attachment; over any of them the attachment gets NOTE_LIMIT and the request goes on.
MAX_BYTES = 20 * 1024 * 1024          # the attachment itself
MAX_UNPACKED = 60 * 1024 * 1024       # what a .docx/.xlsx declares it unpacks to, all entries together
MAX_RATIO = 100                       # unpacked : packed, once more than MAX_RATIO_FROM is unpacked
MAX_RATIO_FROM = 2 * 1024 * 1024
INLINE_UNPACKED = 1024 * 1024         # a .docx/.xlsx unpacking to no more is read without a child process
MAX_ENTRIES = 5000                    # files inside a .docx/.xlsx
MAX_PDF_PAGES = 60                    # pages of a PDF read (a 请示 is a few pages; annexes may be long)
MAX_TEXT = 200_000                    # characters of text kept from one attachment
READ_SECONDS = 20                     # wall clock and CPU for reading one attachment
READ_MEMORY = 768 * 1024 * 1024       # address space of the reading process
CONVERT_TIMEOUT = 60                  # seconds for one LibreOffice conversion
CONVERT_MEMORY = 2 * 1024 * 1024 * 1024   # address space of LibreOffice
MAIL_SECONDS = 90                     # reading all attachments of one mail (the systemd watchdog allows 120)
MAX_ATTACHMENTS = 20                  # attachments of one mail that are read


class TooBig(Exception):
    """The attachment is over one of the limits above."""


def extract_text(filename: str, data: bytes, budget: float | None = None) -> tuple[str | None, str]:
    """Return (text, "") when the document was read, else (None, a note in Chinese saying why); `budget`: the
    seconds left of the mail's reading time (MAIL_SECONDS)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return None, NOTE_IMAGE
    if suffix not in READABLE_SUFFIXES:
        return None, NOTE_FORMAT
    if len(data) > MAX_BYTES:
        log.info("attachment %r not read: %d bytes", filename, len(data))
        return None, NOTE_LIMIT
    if suffix == ".txt":
        return _nonempty(decode_text(data)[:MAX_TEXT], NOTE_BROKEN)
    soffice = ""
    if suffix in CONVERTIBLE_SUFFIXES | SHEET_SUFFIXES:
        soffice = soffice_path() or ""
        if not soffice:
            return None, NOTE_NO_OFFICE
    unpacked = zipped = None
    try:
        if suffix in ZIP_SUFFIXES:
            zipped = zipfile.ZipFile(io.BytesIO(data))      # its directory read once, for the check and the text
            unpacked = check_zip(data, zipped)
    except TooBig as exc:
        log.info("attachment %r not read: %s", filename, exc)
        return None, NOTE_LIMIT
    except Exception as exc:  # not a zip at all
        log.info("cannot read attachment %r: %s", filename, exc)
        return None, NOTE_BROKEN
    if budget is not None and budget < 1:
        log.info("attachment %r not read: the mail's reading time is used up", filename)
        return None, NOTE_LIMIT
    if unpacked is not None and unpacked <= INLINE_UNPACKED:
        # what it unpacks to bounds the work to a few milliseconds, less than starting a child would cost
        with zipped:
            return read(suffix, data, limit=False, zipped=zipped)
    return _in_child(filename, suffix, data, soffice, budget)


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


def _opened(data: bytes, zipped: zipfile.ZipFile | None):
    """`zipped`, left open for whoever opened it, or `data` opened as a zip and closed after."""
    return contextlib.nullcontext(zipped) if zipped is not None else zipfile.ZipFile(io.BytesIO(data))


def check_zip(data: bytes, zipped: zipfile.ZipFile | None = None) -> int:
    """What a zip (a .docx, an .xlsx; `zipped`: the same opened already) unpacks to; TooBig when too much.
    zipfile never unpacks more than an entry declares, so the declared sizes bound the work."""
    with _opened(data, zipped) as z:
        infos = z.infolist()
        if len(infos) > MAX_ENTRIES:
            raise TooBig(f"{len(infos)} entries")
        total = sum(i.file_size for i in infos)
        if total > MAX_UNPACKED:
            raise TooBig(f"unpacks to {total} bytes")
        if total > MAX_RATIO_FROM and total > MAX_RATIO * max(1, len(data)):
            raise TooBig(f"unpacks to {total} bytes from {len(data)}")
        return total


# ---------------------------------------------------------------- the child process

def _in_child(filename: str, suffix: str, data: bytes, soffice: str,
              left: float | None = None) -> tuple[str | None, str]:
    """Read the attachment in a forked child under rlimits, leading a process group of its own (with the
    LibreOffice it may start); a timeout, a crash or an answer too long is NOTE_LIMIT.

    A fork shares the modules already imported, so a child costs milliseconds; a fresh interpreter importing
    python-docx would cost several hundred for every attachment of every request."""
    budget = READ_SECONDS + (CONVERT_TIMEOUT if soffice else 0)
    budget = min(budget, left) if left is not None else budget
    _preload(suffix)
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(r)
        os.close(w)
        log.warning("cannot start the reader for %r: %s", filename, exc)
        return None, NOTE_BROKEN
    if pid == 0:
        _child(r, w, suffix, data, soffice)       # never returns
    os.close(w)
    try:
        out, status = _collect(r, pid, budget)
    finally:
        os.close(r)
    if out is None:
        log.warning("reading attachment %r took more than %ss or answered too much, stopped", filename, budget)
        return None, NOTE_LIMIT
    try:
        answer = json.loads(out.decode("utf-8"))
        return answer["text"], answer["note"]
    except (ValueError, KeyError, TypeError):
        # killed by its CPU or memory limit (or a bug): say so, never guess
        log.warning("reading attachment %r failed (wait status %s)", filename, status)
        return None, NOTE_LIMIT


def _preload(suffix: str) -> None:
    """Import here the library a child reads `suffix` with, so that it is imported once for the daemon and not
    again in every child (pypdf alone takes a good part of a second to import)."""
    try:
        if suffix == ".pdf":
            import pypdf  # noqa: F401
        elif suffix in {".docx"} | CONVERTIBLE_SUFFIXES:
            import docx  # noqa: F401
            import docx.oxml.parser  # noqa: F401
    except ImportError:
        pass                # the child says what is missing, as it would have


def _child(r: int, w: int, suffix: str, data: bytes, soffice: str) -> None:
    """The forked reader: its answer as JSON on `w`, then gone without running the parent's exit handlers."""
    code = 1
    try:
        os.close(r)
        os.setsid()
        text, note = read(suffix, data, soffice)
        view = memoryview(json.dumps({"text": text, "note": note}, ensure_ascii=False).encode("utf-8"))
        while view:
            view = view[os.write(w, view):]
        code = 0
    finally:
        os._exit(code)


def _collect(r: int, pid: int, budget: float) -> tuple[bytes | None, int]:
    """The child's answer read within `budget` seconds (None, after killing its group, when late or too long)
    and its wait status."""
    import select
    import signal
    import time
    deadline = time.monotonic() + budget
    limit = 8 * MAX_TEXT + 4096         # JSON of MAX_TEXT characters, whatever they are
    chunks, size, out = [], 0, None
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or size > limit:
            break
        ready, _, _ = select.select([r], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(r, 1 << 16)
        if not chunk:
            out = b"".join(chunks)
            break
        chunks.append(chunk)
        size += len(chunk)
    if out is None:
        for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
            try:
                kill()
                break
            except OSError:
                continue
    _, status = os.waitpid(pid, 0)
    return out, status


def run_bounded(command: list[str], data: bytes | None, timeout: float, preexec_fn=None, own_group: bool = True,
                **kwargs):
    """(exit code, stdout, stderr) of a command; on timeout its whole process group is killed (LibreOffice starts
    a second process) and TimeoutExpired raised. `own_group=False` (only in the reader, which leads a group of
    its own): the command stays in the caller's group, so that a timeout of the reader kills it too."""
    import signal
    proc = subprocess.Popen(command, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=own_group,
                            preexec_fn=preexec_fn, **kwargs)
    try:
        out, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid if own_group else os.getpgid(0), signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return proc.returncode, out, err


def _limit(memory: int, seconds: int) -> None:
    """Limits of the calling process: `memory` bytes of address space beyond what it has mapped already (a
    forked reader starts with the daemon's), `seconds` of CPU."""
    import resource
    memory += _mapped()
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _mapped() -> int:
    """Bytes of address space the process has mapped (0 where /proc is missing)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def read(suffix: str, data: bytes, soffice: str = "", limit: bool = True,
         zipped: zipfile.ZipFile | None = None) -> tuple[str | None, str]:
    """The reading itself (in the child, which `limit`s itself); `soffice` converts the formats only
    LibreOffice reads; `zipped`: a .docx or .xlsx `data` opened already."""
    try:
        if suffix in CONVERTIBLE_SUFFIXES | SHEET_SUFFIXES:
            target = "docx" if suffix in CONVERTIBLE_SUFFIXES else "xlsx"
            data = convert(soffice, suffix, data, target)
            if data is None:
                return None, NOTE_BROKEN
            check_zip(data)
            suffix, zipped = "." + target, None
        if limit:
            _limit(READ_MEMORY, READ_SECONDS)
        if suffix == ".docx":
            return _nonempty(docx_text(data, zipped)[:MAX_TEXT], NOTE_SCAN)
        if suffix == ".xlsx":
            return _nonempty(xlsx_text(data, zipped)[:MAX_TEXT], NOTE_BROKEN)
        if suffix == ".pdf":
            return pdf_text(data)
    except TooBig:
        return None, NOTE_LIMIT
    except MemoryError:
        return None, NOTE_LIMIT
    except Exception as exc:  # a broken file must never stop the check
        log.info("cannot read attachment (%s): %s", suffix, exc)
        return None, NOTE_BROKEN
    return None, NOTE_FORMAT


def docx_text(data: bytes, zipped: zipfile.ZipFile | None = None) -> str:
    """Paragraphs and table cells in document order, one paragraph a line (`zipped`: `data` opened already)."""
    return body_text(*_docx_body(data, zipped))


def body_text(body, parent) -> str:
    """The text of a python-docx w:body element: paragraphs and table cells in order, one paragraph a line."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    lines: list[str] = []
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, parent).text)
        elif tag == "tbl":
            for row in Table(child, parent).rows:
                seen: set[int] = set()
                for cell in row.cells:
                    if id(cell._tc) in seen:  # merged cells repeat
                        continue
                    seen.add(id(cell._tc))
                    lines.extend(p.text for p in cell.paragraphs)
    return "\n".join(lines)


_PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
_OFFICE_DOCUMENT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_CONTENT_TYPES = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"


def _docx_body(data: bytes, zipped: zipfile.ZipFile | None = None):
    """The w:body of a .docx and the parent its paragraphs and tables hang on. The main document part alone is
    read when the package plainly is a Word document (most of python-docx's cost is the styles, theme, fonts
    and settings it also loads); anything unusual goes through python-docx's whole package as before."""
    from docx.oxml.parser import parse_xml
    try:
        with _opened(data, zipped) as z:
            main = _word_main_part(z)
            if main is not None:
                return parse_xml(z.read(main)).body, None
    except Exception:  # noqa: BLE001 - whatever is odd about it, python-docx decides below
        pass
    import docx
    document = docx.Document(io.BytesIO(data))
    return document.element.body, document


def _word_main_part(z: zipfile.ZipFile) -> str | None:
    """The zip entry of the package's main document part when its content type is a Word document's, else None."""
    from xml.etree import ElementTree as ET
    rels = ET.fromstring(z.read("_rels/.rels"))
    targets = [r.get("Target") or "" for r in rels.iter(_PACKAGE_RELS)
               if r.get("Type") == _OFFICE_DOCUMENT and r.get("TargetMode", "Internal") == "Internal"]
    if len(targets) != 1 or "%" in targets[0] or "\\" in targets[0]:
        return None
    name = posixpath.normpath("/" + targets[0])
    types = ET.fromstring(z.read("[Content_Types].xml"))
    ctype = next((o.get("ContentType") for o in types.iter(f"{_CONTENT_TYPES}Override")
                  if (o.get("PartName") or "").lower() == name.lower()), None)
    if ctype is None:
        ext = name.rpartition(".")[2].lower()
        ctype = next((d.get("ContentType") for d in types.iter(f"{_CONTENT_TYPES}Default")
                      if (d.get("Extension") or "").lower() == ext), None)
    if ctype != _WORD_MAIN or name[1:] not in z.namelist():
        return None
    return name[1:]


_SHEET_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def xlsx_text(data: bytes, zipped: zipfile.ZipFile | None = None) -> str:
    """Cells of every sheet, a row a line, cells separated by tabs (shared and inline strings, numbers);
    `zipped`: `data` opened already."""
    from xml.etree import ElementTree as ET

    with _opened(data, zipped) as z:
        names = z.namelist()
        shared: list[str] = []
        if "xl/sharedStrings.xml" in names:
            root = ET.fromstring(z.read("xl/sharedStrings.xml"))
            shared = ["".join(t.text or "" for t in si.iter(f"{_SHEET_NS}t")) for si in root.iter(f"{_SHEET_NS}si")]
        sheets = sorted((n for n in names if n.startswith("xl/worksheets/sheet") and n.endswith(".xml")),
                        key=lambda n: (len(n), n))
        lines: list[str] = []
        for name in sheets:
            root = ET.fromstring(z.read(name))
            for row in root.iter(f"{_SHEET_NS}row"):
                cells = []
                for c in row.iter(f"{_SHEET_NS}c"):
                    kind, value = c.get("t"), c.find(f"{_SHEET_NS}v")
                    if kind == "s" and value is not None and (value.text or "").isdigit():
                        index = int(value.text)
                        cells.append(shared[index] if index < len(shared) else "")
                    elif kind == "inlineStr":
                        cells.append("".join(t.text or "" for t in c.iter(f"{_SHEET_NS}t")))
                    elif value is not None and value.text:
                        cells.append(value.text)
                if any(cells):
                    lines.append("\t".join(cells))
    return "\n".join(lines)


def pdf_text(data: bytes) -> tuple[str | None, str]:
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            reader.decrypt("")
        except Exception:
            return None, NOTE_ENCRYPTED
    pages = []
    for n, page in enumerate(reader.pages):
        if n >= MAX_PDF_PAGES:
            break
        pages.append(page.extract_text() or "")
    return _nonempty("\n".join(pages)[:MAX_TEXT], NOTE_SCAN)


def soffice_path() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert(binary: str, suffix: str, data: bytes, target: str) -> bytes | None:
    """A document converted by a headless LibreOffice in a private temp dir, under a memory limit and a
    timeout; None when it could not be converted."""
    with tempfile.TemporaryDirectory(prefix="officeflow-doc-") as tmp:
        source = Path(tmp) / ("input" + suffix)
        source.write_bytes(data)
        profile = Path(tmp) / "profile"
        command = [binary, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                   "--convert-to", target, "--outdir", tmp, str(source)]
        try:
            run_bounded(command, None, CONVERT_TIMEOUT, preexec_fn=lambda: _limit(CONVERT_MEMORY, CONVERT_TIMEOUT),
                        own_group=os.getpgid(0) != os.getpid())
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("LibreOffice conversion of a %s failed: %s", suffix, exc)
            return None
        converted = source.with_suffix("." + target)
        return converted.read_bytes() if converted.exists() else None
