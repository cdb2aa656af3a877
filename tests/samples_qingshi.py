"""Generated sample 请示 (correct ones and each fault alone and combined) with the rule ids each must yield."""

from __future__ import annotations

import atexit
import functools
import hashlib
import io
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 28)


@dataclass(frozen=True)
class Sample:
    name: str
    form: str                                   # "body" | "docx" | "pdf" | "image" (a scan)
    subject: str
    body: str
    attachments: tuple[tuple[str, bytes], ...]
    expected: frozenset[str]                    # exact rule ids the check must yield
    title: str | None = None                    # expected CheckResult.title
    require_signer: bool = False
    urgency: str = ""
    deadline: date | None = None
    classification: str = ""


@dataclass
class Draft:
    """The parts of one 请示, so that a fault changes exactly one part."""
    unit: str
    core: str                                   # 事由, e.g. 购置办公设备
    other: str                                  # a second matter, for the 一文一事 fault
    reason: str
    request: str
    annexes: list[tuple[str, bytes]]
    head: list[str] = field(default_factory=list)
    title: str | None = None
    recipient: str | None = "集团公司"
    extra: list[str] = field(default_factory=list)
    closing: str | None = "妥否，请批示。"
    listed: list[str] | None = None             # names in 附件说明; None = the annexes' names
    sent: list[tuple[str, bytes]] | None = None  # files actually sent; None = the annexes
    signature: str | None = None
    written: str | None = "2026年11月20日"
    contact: str | None = "（联系人：张明，联系电话：0571-88001234）"
    cc: str | None = None

    def lines(self) -> list[str]:
        listed = self.listed if self.listed is not None else [Path(n).stem for n, _ in self.annexes]
        out = list(self.head)
        if self.title is not None:
            out.append(self.title)
        if self.recipient is not None:
            out.append(self.recipient + "：")
        out += [self.reason, self.request] + self.extra
        if self.closing:
            out.append(self.closing)
        if listed:
            out.append(f"附件：1.{listed[0]}")
            out += [f"      {i}.{n}" for i, n in enumerate(listed[1:], 2)]
        if self.signature:
            out.append(self.signature)
        if self.written:
            out.append(self.written)
        if self.contact:
            out.append(self.contact)
        if self.cc:
            out.append(f"抄送：{self.cc}。")
        return out


def _xlsx() -> bytes:
    return b"PK\x03\x04 not really a workbook"


def _docx(lines: list[str], centre_first: int = 0) -> bytes:
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    document = docx.Document()
    for i, line in enumerate(lines):
        paragraph = document.add_paragraph(line.strip())
        if i < centre_first:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return _save(document)


def _save(document) -> bytes:
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def _agenda() -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph("2027年度安全生产工作会议议程")
    table = document.add_table(rows=2, cols=2)
    for r, (a, b) in enumerate([("时间", "内容"), ("9:00", "总结2026年度安全生产工作")]):
        table.cell(r, 0).text, table.cell(r, 1).text = a, b
    return _save(document)


FONT_NAMES = ("wqy-microhei.ttc", "wqy-zenhei.ttc", "NotoSansCJK-Regular.ttc", "NotoSerifCJK-Regular.ttc",
              "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf", "uming.ttc", "ukai.ttc",
              "DroidSansFallbackFull.ttf", "SourceHanSansSC-Regular.otf")
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")


def cjk_font() -> Path | None:
    """A font with Chinese glyphs for fpdf2, from the usual system font directories."""
    for folder in FONT_DIRS:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for name in FONT_NAMES:
            hit = next(root.rglob(name), None)
            if hit:
                return hit
    return None


@functools.lru_cache(maxsize=1)
def _small_font() -> Path:
    """The CJK font cut down to the characters written in this file, so each PDF takes milliseconds."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = cjk_font()
    if font is None:
        raise RuntimeError("no CJK font")
    loaded = TTFont(str(font), fontNumber=0, lazy=True)
    options = subset.Options()
    options.drop_tables += ["FFTM"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=Path(__file__).read_text(encoding="utf-8") + "：，。（）、；“”《》★〔〕")
    subsetter.subset(loaded)
    handle, name = tempfile.mkstemp(suffix=".ttf", prefix="cjk-subset-")
    os.close(handle)
    loaded.save(name)
    atexit.register(os.unlink, name)
    return Path(name)


PDF_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "sample-pdfs"


def _pdf(lines: list[str]) -> bytes:
    """The lines as a PDF with a text layer; kept in .cache/ by what it is made from, since the samples are
    built when the tests are collected and fonts and PDFs take a second every time."""
    from importlib.metadata import version

    key = hashlib.sha256(f"{version('fpdf2')}\n{cjk_font()}\n".encode() + "\n".join(lines).encode()).hexdigest()
    cached = PDF_CACHE / f"{key[:32]}.pdf"
    if cached.is_file():
        return cached.read_bytes()
    data = _make_pdf(lines)
    PDF_CACHE.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(cached)                 # atomic: a run beside this one never reads half a file
    return data


def _make_pdf(lines: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("cjk", "", str(_small_font()))
    pdf.set_font("cjk", size=14)
    for line in lines:
        pdf.multi_cell(0, 9, line.strip() or " ", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def drafts() -> dict[str, Draft]:
    """Three matters from three units, each a correct 请示 with its annexes."""
    return {
        "equipment": Draft(
            unit="第一分公司", core="购置办公设备", other="召开年度工作总结会议",
            reason="我公司现有办公电脑多数购于2018年，配置老化，故障频发，已影响日常办公和财务结算工作。",
            request="经测算，拟购置台式电脑20台、激光打印机5台，所需经费约12万元，从本年度办公经费中列支。",
            annexes=[("购置清单.xlsx", _xlsx()), ("报价单.xlsx", _xlsx())]),
        "meeting": Draft(
            unit="第二分公司", core="召开2027年度安全生产工作会议", other="表彰安全生产先进集体",
            reason="为全面总结2026年度安全生产工作，部署2027年度安全生产任务，根据集团公司年度工作安排，",
            request="我公司拟于2027年1月8日在公司三楼会议室召开2027年度安全生产工作会议，会期1天，参会人员约80人，"
                    "会议经费约2万元，从安全生产经费中列支。",
            annexes=[("会议议程.docx", _agenda())]),
        "funding": Draft(
            unit="工程技术中心", core="追加安全生产专项经费", other="增设安全管理岗位",
            reason="由于今年新开工项目增加，现有安全防护设施和检测设备不足，年初核定的安全生产专项经费已基本用完。",
            request="特申请追加安全生产专项经费30万元，主要用于购置安全防护用品和检测仪器。",
            annexes=[("经费测算表.xlsx", _xlsx())]),
    }


def finish(d: Draft) -> Draft:
    if d.title is None and not hasattr(d, "_no_title"):
        d.title = f"关于{d.core}的请示"
    if d.signature is None and not hasattr(d, "_no_signature"):
        d.signature = d.unit
    return d


def _no(attr: str):
    def apply(d: Draft) -> None:
        setattr(d, "_no_" + attr, True)
        setattr(d, attr, None)
    return apply


def _set(**values):
    return lambda d: [setattr(d, k, v(d) if callable(v) else v) for k, v in values.items()]


def _options(d: Draft) -> None:
    d.request = ("现提出两种方案：方案一，一次性购置台式电脑20台，约12万元；方案二，分两年购置，每年10台。"
                 "请求集团公司审定。")


def _two_matters(d: Draft) -> None:
    d.title = f"关于{d.core}和{d.other}的请示"
    d.extra = [f"同时申请{d.other}。"]


FAULTS: dict[str, tuple[frozenset[str], object]] = {
    "no_title": (frozenset({"title"}), _no("title")),
    "title_no_guanyu": (frozenset({"title"}), _set(title=lambda d: f"{d.core}的请示")),
    "title_no_genre": (frozenset({"title"}), _set(title=lambda d: f"关于{d.core}")),
    "genre_report": (frozenset({"genre"}), _set(title=lambda d: f"关于{d.core}的报告")),
    "genre_qingshi_baogao": (frozenset({"genre"}), _set(title=lambda d: f"关于{d.core}的请示报告")),
    "genre_apply": (frozenset({"genre"}), _set(title=lambda d: f"关于{d.core}的申请")),
    "two_matters": (frozenset({"one_matter"}), _two_matters),
    "extra_matter_in_body": (frozenset({"one_matter"}), _set(extra=lambda d: [f"此外还申请{d.other}。"])),
    "many_recipients": (frozenset({"recipient"}), _set(recipient="集团公司、市国资委")),
    "no_recipient": (frozenset({"recipient"}), _set(recipient=None)),
    "to_leader": (frozenset({"to_leader"}), _set(recipient="李副总")),
    "to_office_head": (frozenset({"to_leader"}), _set(recipient="集团公司办公室主任")),
    "copy_down": (frozenset({"copy_down"}), _set(cc="各项目部")),
    "no_reason": (frozenset({"reason"}), _set(reason="")),
    "no_request": (frozenset({"request"}), _set(request="")),
    "options_without_preference": (frozenset({"option"}), _options),
    "no_closing": (frozenset({"closing"}), _set(closing=None)),
    "report_closing": (frozenset({"closing"}), _set(closing="特此报告。")),
    "no_signature": (frozenset({"signature"}), _no("signature")),
    "no_date": (frozenset({"date"}), _set(written=None)),
    "future_date": (frozenset({"date"}), _set(written="2027年1月15日")),
    "date_chinese": (frozenset({"date_format"}), _set(written="二〇二六年十一月二十日")),
    "date_padded": (frozenset({"date_format"}), _set(written="2026年11月02日")),
    "date_dotted": (frozenset({"date_format"}), _set(written="2026.11.20")),
    "no_contact": (frozenset({"contact"}), _set(contact=None)),
    "no_phone": (frozenset({"contact"}), _set(contact="（联系人：张明）")),
    "annex_missing": (frozenset({"attachment_missing"}), _set(sent=lambda d: d.annexes[:-1] if len(d.annexes) > 1 else [])),
    "annex_unlisted": (frozenset({"attachment_unlisted"}), _set(sent=lambda d: d.annexes + [("现场照片.jpg", b"\xff\xd8")])),
    "classified": (frozenset({"classified"}), _set(head=["机密★1年"])),
}

COMBINED = {
    "title+closing+date": ("no_title", "no_closing", "no_date"),
    "recipient+contact+signature": ("many_recipients", "no_contact", "no_signature"),
    "genre+copy_down+date_format": ("genre_apply", "copy_down", "date_chinese"),
    "leader+annex+reason": ("to_leader", "annex_missing", "no_reason"),
    "matters+options": ("two_matters", "options_without_preference"),
}


def build(name: str, form: str, d: Draft, expected, **extra) -> Sample:
    d = finish(d)
    lines = d.lines()
    sent = d.sent if d.sent is not None else d.annexes
    title = extra.pop("title", d.title if d.title and d.title.endswith("请示") else None)
    if "classified" in expected:
        extra.setdefault("classification", "机密")
    if form == "body":
        return Sample(name, form, extra.pop("subject", f"{d.unit}报送请示件"), "\n".join(lines),
                      tuple(sent), frozenset(expected), title, **extra)
    filename = f"{d.title or d.core}.{form}"
    data = _docx(lines, centre_first=len(d.head) + 1) if form == "docx" else _pdf(lines)
    cover = f"集团公司办公室：\n    现将我单位请示及相关附件报上，请审阅。\n{d.unit} 张明"
    return Sample(name, form, extra.pop("subject", f"报送：{d.title or d.core}"), cover,
                  ((filename, data),) + tuple(sent), frozenset(expected), title, **extra)


def _apply(d: Draft, *faults: str) -> tuple[Draft, frozenset[str]]:
    expected: set[str] = set()
    for fault in faults:
        ids, change = FAULTS[fault]
        change(d)
        expected |= ids
    return d, frozenset(expected)


def samples(forms=("body", "docx", "pdf")) -> list[Sample]:
    """Every sample; `forms` leaves out PDF where no CJK font is available."""
    out: list[Sample] = []
    topics = list(drafts())
    for form in forms:
        for topic in topics:
            out.append(build(f"correct-{topic}-{form}", form, drafts()[topic], ()))
    for i, fault in enumerate(FAULTS):
        topic = topics[i % len(topics)]
        d, expected = _apply(drafts()[topic], fault)
        out.append(build(f"{fault}-{topic}-body", "body", d, expected))
    for i, fault in enumerate(FAULTS):  # each fault again, in a document attached to the mail
        form = forms[1 + i % (len(forms) - 1)] if len(forms) > 1 else "body"
        topic = topics[(i + 1) % len(topics)]
        d, expected = _apply(drafts()[topic], fault)
        out.append(build(f"{fault}-{topic}-{form}", form, d, expected))
    for i, (name, faults) in enumerate(COMBINED.items()):
        form = forms[i % len(forms)]
        d, expected = _apply(drafts()[topics[i % len(topics)]], *faults)
        out.append(build(f"{name}-{form}", form, d, expected))
    out += special_samples(forms)
    return out


def special_samples(forms) -> list[Sample]:
    """Correct documents in unusual shapes, and the markings the check reads."""
    out = []
    d = drafts()["equipment"]
    d.head = ["签发人：王强"]
    out.append(build("signer-present-required", "body", d, (), require_signer=True))
    d, _ = _apply(drafts()["meeting"], "no_title")
    out.append(build("title-only-in-subject", "body", d, (), subject="关于召开2027年度安全生产工作会议的请示"))
    d = drafts()["funding"]
    d.head = ["特急"]
    d.closing = "妥否，请于12月5日前批复。"
    out.append(build("urgent-with-deadline", forms[-1], d, (), urgency="特急", deadline=date(2026, 12, 5)))
    d = drafts()["equipment"]
    d.reason += "本事项不涉及秘密，报价资料不含商业秘密。"
    out.append(build("secret-words-not-marking", "body", d, (), subject="【加急】第一分公司报送请示件",
                     urgency="加急"))
    out.append(build("signer-missing-required", "body", drafts()["funding"], ("signer",), require_signer=True))
    d = drafts()["meeting"]
    d.title = "关于召开2027年度安全生产"
    d.extra = []
    finish(d)
    lines = d.lines()
    lines[0:1] = ["关于召开2027年度安全生产", "工作会议的请示"]
    data = _docx(lines, centre_first=2)
    out.append(Sample("title-on-two-lines-docx", "docx", "报送请示", "请审阅附件。",
                      (("请示.docx", data),) + tuple(d.annexes), frozenset(),
                      "关于召开2027年度安全生产工作会议的请示"))
    d = drafts()["funding"]
    out.append(Sample("scanned-request-image", "image", "报送请示", "现将我单位请示扫描件报上，请审阅。",
                      (("关于追加安全生产专项经费的请示.jpg", b"\xff\xd8\xff\xe0 scanned page"),) + tuple(d.annexes),
                      frozenset({"unreadable"})))
    return out


def available_forms() -> tuple[str, ...]:
    return ("body", "docx", "pdf") if cjk_font() else ("body", "docx")


def pdf_expected() -> bool:
    """PDF samples must run in CI even when the machine lacks a font: then the test fails, not skips."""
    return bool(cjk_font()) or bool(os.environ.get("CI"))
