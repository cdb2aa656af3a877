"""The 报批材料审批单: its data, the printable .docx and the date filters of its mail partials; nothing here reads the database or sends mail."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

from docx import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from daemon.limits import xml_safe

FORM_TITLE = "报批材料审批单"
FOOTER_NOTE = "注：此单随文件一起运转、立卷、归档。"

# Decisions whose text names a person or a target rather than continuing a sentence.
_COLON_DECISIONS = ("转交", "加签")


def cndate(value: date | datetime | None) -> str:
    """2026年11月27日: full year, month and day without leading zeros (GB/T 9704)."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def cndatetime(value: date | datetime | None) -> str:
    """2026年11月27日 14:05; a plain date is shown without a time."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return cndate(value)
    return f"{cndate(value)} {value.hour:02d}:{value.minute:02d}"


FILTERS = {"cndate": cndate, "cndatetime": cndatetime}


def _written_decision(decision: str, text: str) -> bool:
    """The text states a decision in the writer's words (同意/不同意 in it, or a 批示 word the reader takes)."""
    if decision in _COLON_DECISIONS:
        return False
    from daemon.replies import Verb, classify
    return decision in text or classify(text).verb is not Verb.UNKNOWN


@dataclass(frozen=True)
class OpinionView:
    name: str
    decision: str  # 同意 原则同意 不同意 退回 转交 加签
    text: str
    at: datetime

    @property
    def display(self) -> str:
        """The opinion as written on the form: the decision, then what the person added."""
        decision, text = self.decision.strip(), self.text.strip()
        if not decision:
            return text
        if not text:
            return decision
        if text.startswith(decision) or _written_decision(decision, text):
            return text        # the person's own words (如拟, 已阅，同意。) carry the decision already
        sep = "：" if decision in _COLON_DECISIONS else "。"
        return f"{decision}{sep}{text}"


@dataclass(frozen=True)
class StepView:
    index: int
    kind: str  # "" (one person) | 会签 | 或签
    label: str  # 财务科、审计科 / 李副总/王副总
    role: str  # 科室意见 | 领导批示: the label of the box
    state: str  # 待审批 已同意 不同意 未开始 已退回
    opinions: tuple[OpinionView, ...]

    @property
    def box_label(self) -> str:
        return self.role or "审批意见"

    @property
    def heading(self) -> str:
        return f"{self.label}（{self.kind}）" if self.kind else self.label

    @property
    def show_status(self) -> bool:
        """An empty box, or one still waiting for someone, says whom and how it stands."""
        return not self.opinions or self.state == "待审批"

    @property
    def status_line(self) -> str:
        return f"{self.heading}：{self.state}" if self.state else self.heading


@dataclass(frozen=True)
class FormData:
    office_name: str
    number: str
    received_at: datetime
    unit_name: str
    sender: str
    title: str
    doc_number: str  # 来文字号, "" if unknown
    urgency: str
    deadline: date | None
    classification: str
    attachments: tuple[str, ...]
    proposal: str  # 拟办意见
    proposal_by: str
    proposal_at: datetime | None
    steps: tuple[StepView, ...]
    execute: str
    copies: tuple[str, ...]
    state: str  # 审批中 已批准，待办结 已办结 未获批准 已撤回 已退回
    result: str  # 同意 / 不同意 / ""
    done_report: str  # 办结回告
    closed_at: datetime | None
    printed_at: datetime

    @property
    def urgency_label(self) -> str:
        return self.urgency or "普通"

    @property
    def classification_label(self) -> str:
        return self.classification or "无"

    @property
    def copies_label(self) -> str:
        return "、".join(self.copies)

    @property
    def result_label(self) -> str:
        if self.result and self.state:
            return f"{self.result}（{self.state}）"
        return self.result or self.state

    @property
    def proposal_sign(self) -> str:
        """拟办人：张三  2026年11月27日, or "" before the office has reviewed it."""
        if not self.proposal_by and self.proposal_at is None:
            return ""
        who = f"拟办人：{self.proposal_by}" if self.proposal_by else "拟办日期："
        return f"{who}　{cndate(self.proposal_at)}".rstrip("　")

    @property
    def closed_sign(self) -> str:
        if self.closed_at is None:
            return ""
        return f"{self.execute}　{cndate(self.closed_at)}".lstrip("　")


def form_filename(form: FormData) -> str:
    """The attachment name of the printable form, e.g. 报批材料审批单（办请〔2026〕7号）.docx."""
    return f"{FORM_TITLE}（{form.number}）.docx"


# ---------------------------------------------------------------- .docx

BODY_FONT = "仿宋_GB2312"
TITLE_FONT = "方正小标宋简体"
LATIN_FONT = "Times New Roman"

# Grid columns, 156 mm in all (the GB/T 9704 text block). Rows merge them into
# two pairs (label 25 | value 45 | label 25 | value 61), three pairs
# (25 | 22 | 18 | 20 | 25 | 46: room for a date) or label and one wide value.
_GRID_MM = (25, 22, 18, 5, 15, 10, 15, 46)
_PAIR, _TRIPLE, _FULL = (1, 3, 2, 2), (1, 1, 1, 2, 2, 1), (1, 7)
_LINE_MM, _BOX_MM = Mm(9), Mm(20)

_LABEL_PT = 14  # 四号
_VALUE_PT = 12  # 小四
_OPINION_PT = 14  # 四号, 2-character first-line indent
_SMALL_PT = 10.5  # 五号


def render_docx(form: FormData) -> bytes:
    """The completed form as an A4 .docx in the layout of a paper 审批单."""
    doc = Document()
    _set_default_fonts(doc)
    _set_page(doc, form)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_after = Pt(12)
    _run(title, FORM_TITLE, Pt(22), east=TITLE_FONT, spacing=Pt(2))

    table = doc.add_table(rows=0, cols=len(_GRID_MM))
    _shape_table(table)

    cells = _row(table, _PAIR, _LINE_MM)
    _label(cells[0], "收文编号"), _value(cells[1], form.number)
    _label(cells[2], "收文日期"), _value(cells[3], cndate(form.received_at))
    cells = _row(table, _PAIR, _LINE_MM)
    _label(cells[0], "来文单位"), _value(cells[1], form.unit_name)
    _label(cells[2], "来文字号"), _value(cells[3], form.doc_number)
    cells = _row(table, _FULL, Mm(12))
    _label(cells[0], "标题"), _value(cells[1], form.title, size=Pt(_LABEL_PT))
    cells = _row(table, _TRIPLE, _LINE_MM)
    _label(cells[0], "紧急程度"), _value(cells[1], form.urgency_label)
    _label(cells[2], "密级"), _value(cells[3], form.classification_label)
    _label(cells[4], "办理时限"), _value(cells[5], cndate(form.deadline))
    cells = _row(table, _FULL, _LINE_MM)
    _label(cells[0], "附件")
    numbered = [f"{i}. {name}" for i, name in enumerate(form.attachments, 1)] if len(form.attachments) > 1 else list(form.attachments)
    _value(cells[1], "\n".join(numbered) or "无")

    cells = _row(table, _FULL, _BOX_MM)
    _label(cells[0], "拟办意见")
    _opinion_box(cells[1], [(form.proposal, form.proposal_sign)] if form.proposal or form.proposal_sign else [])

    for step in form.steps:
        cells = _row(table, _FULL, _BOX_MM)
        _label(cells[0], step.box_label)
        blocks = [(op.display, f"{op.name}　{cndate(op.at)}") for op in step.opinions]
        _opinion_box(cells[1], blocks, status=step.status_line if step.show_status else "")

    cells = _row(table, _FULL, _LINE_MM)
    _label(cells[0], "执行部门"), _value(cells[1], form.execute)
    cells = _row(table, _FULL, _LINE_MM)
    _label(cells[0], "抄送"), _value(cells[1], form.copies_label)
    cells = _row(table, _FULL, _LINE_MM)
    _label(cells[0], "办理结果"), _value(cells[1], form.result_label)
    cells = _row(table, _FULL, Mm(16))
    _label(cells[0], "办结回告")
    _opinion_box(cells[1], [(form.done_report, form.closed_sign)] if form.done_report or form.closed_sign else [])

    note = doc.add_paragraph()
    note.paragraph_format.space_before = Pt(6)
    _run(note, FOOTER_NOTE, Pt(_VALUE_PT))
    printed = doc.add_paragraph()
    printed.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _run(printed, f"打印时间：{cndatetime(form.printed_at)}", Pt(_SMALL_PT))

    props = doc.core_properties
    props.title = f"{FORM_TITLE}（{form.number}）"
    props.subject = xml_safe(form.title)
    props.author = props.last_modified_by = form.office_name
    props.created = props.modified = form.printed_at.replace(tzinfo=None)
    props.revision = 1
    props.comments = props.keywords = ""

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _set_page(doc, form: FormData) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = Mm(20), Mm(20)
    header = section.header.paragraphs[0]
    header.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(header, form.office_name, Pt(_VALUE_PT))


def _set_default_fonts(doc) -> None:
    """仿宋_GB2312 for Chinese, Times New Roman for digits and Latin, in the defaults and Normal."""
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    if defaults is not None:
        rpr = defaults.find(qn("w:rPrDefault") + "/" + qn("w:rPr"))
        if rpr is not None:
            _rfonts(rpr, BODY_FONT)
    normal = doc.styles["Normal"]
    normal.font.size = Pt(_VALUE_PT)
    rpr = normal.element.get_or_add_rPr()
    _rfonts(rpr, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = _insert_ordered(rpr, OxmlElement("w:lang"), _RPR_ORDER)
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    fmt = normal.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing = 1.0


def _rfonts(rpr, east: str) -> None:
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = _insert_ordered(rpr, OxmlElement("w:rFonts"), _RPR_ORDER)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme), None)
    rfonts.set(qn("w:ascii"), LATIN_FONT)
    rfonts.set(qn("w:hAnsi"), LATIN_FONT)
    rfonts.set(qn("w:cs"), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), east)
    rfonts.set(qn("w:hint"), "eastAsia")


def _run(paragraph, text: str, size, east: str = BODY_FONT, bold: bool = False, spacing=None):
    run = paragraph.add_run(xml_safe(text))
    run.font.size = size
    run.font.bold = bold
    _rfonts(run._element.get_or_add_rPr(), east)
    if spacing is not None:
        sp = OxmlElement("w:spacing")
        sp.set(qn("w:val"), str(int(spacing.pt * 20)))
        _insert_ordered(run._element.get_or_add_rPr(), sp, _RPR_ORDER)
    return run


def _shape_table(table) -> None:
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    for column, width in zip(table.columns, _GRID_MM):
        column.width = Mm(width)
    tblpr = table._tbl.tblPr
    width = tblpr.find(qn("w:tblW"))
    if width is None:
        width = _insert_ordered(tblpr, OxmlElement("w:tblW"), _TBLPR_ORDER)
    width.set(qn("w:type"), "dxa")
    width.set(qn("w:w"), str(round(sum(_GRID_MM) / 25.4 * 1440)))
    borders = OxmlElement("w:tblBorders")
    # Outer rules 1 pt, inner 0.5 pt, single black (as on printed 处理单).
    for edge, size in (("top", 8), ("left", 8), ("bottom", 8), ("right", 8), ("insideH", 4), ("insideV", 4)):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:space"), "0")
        el.set(qn("w:color"), "000000")
        borders.append(el)
    _insert_ordered(tblpr, borders, _TBLPR_ORDER)
    margins = OxmlElement("w:tblCellMar")
    for edge, twips in (("top", 57), ("left", 108), ("bottom", 57), ("right", 108)):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:w"), str(twips))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    _insert_ordered(tblpr, margins, _TBLPR_ORDER)


# Schema order of the children we add, so that Word opens the file without repairing it.
_TBLPR_ORDER = (
    "tblStyle tblpPr tblOverlap bidiVisual tblStyleRowBandSize tblStyleColBandSize tblW jc "
    "tblCellSpacing tblInd tblBorders shd tblLayout tblCellMar tblLook tblCaption tblDescription"
).split()
_RPR_ORDER = (
    "rStyle rFonts b bCs i iCs caps smallCaps strike dstrike outline shadow emboss imprint noProof "
    "snapToGrid vanish webHidden color spacing w kern position sz szCs highlight u effect bdr shd "
    "fitText vertAlign rtl cs em lang eastAsianLayout specVanish oMath"
).split()


def _insert_ordered(parent, child, order: list[str]):
    """Insert child before the first sibling that the schema puts after it."""
    rank = order.index(child.tag.split("}")[1])
    for i, sibling in enumerate(parent):
        name = sibling.tag.split("}")[1] if isinstance(sibling.tag, str) else ""
        if name in order and order.index(name) > rank:
            parent.insert(i, child)
            return child
    parent.append(child)
    return child


def _row(table, spans: tuple[int, ...], min_height) -> list:
    row = table.add_row()
    row.height, row.height_rule = min_height, WD_ROW_HEIGHT_RULE.AT_LEAST
    trpr = row._tr.get_or_add_trPr()
    trpr.append(OxmlElement("w:cantSplit"))
    cells, col = [], 0
    for span in spans:
        cell = row.cells[col]
        if span > 1:
            cell = cell.merge(row.cells[col + span - 1])
        cell.width = Mm(sum(_GRID_MM[col : col + span]))
        cells.append(cell)
        col += span
    return cells


def _label(cell, text: str) -> None:
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    paragraph = cell.paragraphs[0]
    # Labels are spread across the cell, as on printed forms ("标    题").
    paragraph.alignment = WD_ALIGN_PARAGRAPH.DISTRIBUTE
    _run(paragraph, text, Pt(_LABEL_PT))


def _value(cell, text: str, size=Pt(_VALUE_PT)) -> None:
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    for i, line in enumerate(text.splitlines() or [""]):
        paragraph = cell.paragraphs[0] if i == 0 else cell.add_paragraph()
        if line:
            _run(paragraph, line, size)


def _opinion_box(cell, blocks: list[tuple[str, str]], status: str = "") -> None:
    """Opinions stacked in one box: each text indented, its signer and date right-aligned below."""
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    first = True

    def paragraph():
        nonlocal first
        p = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        return p

    for n, (text, sign) in enumerate(blocks):
        for i, line in enumerate(text.strip().splitlines()):
            p = paragraph()
            p.paragraph_format.first_line_indent = Pt(2 * _OPINION_PT)
            if n and not i:
                p.paragraph_format.space_before = Pt(6)
            _run(p, line, Pt(_OPINION_PT))
        if sign:
            p = paragraph()
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            _run(p, sign, Pt(_VALUE_PT))
    if status:
        p = paragraph()
        if blocks:
            p.paragraph_format.space_before = Pt(6)
        _run(p, status, Pt(_VALUE_PT))
