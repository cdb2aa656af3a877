"""Tests of the 报批材料审批单: the printable .docx and the HTML and text mail partials."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import jinja2
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from daemon.docform import (
    FILTERS,
    FormData,
    OpinionView,
    StepView,
    cndate,
    cndatetime,
    form_filename,
    render_docx,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
CST = timezone(timedelta(hours=8))


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CST)


OPINIONS = (
    OpinionView("财务科", "同意", "经费在年度预算内，可以列支。", at(2026, 11, 23, 9, 40)),
    OpinionView("审计科", "原则同意", "请按规定履行比价程序。", at(2026, 11, 24, 15, 5)),
    OpinionView("李副总", "同意", "请综合科抓紧落实，<script>alert(1)</script>注意控制成本。", at(2026, 11, 27, 14, 5)),
)


def make_form(**changes) -> FormData:
    fields = dict(
        office_name="集团公司办公室",
        number="办请〔2026〕7号",
        received_at=at(2026, 1, 5, 9, 12),
        unit_name="第一分公司",
        sender="unit1@example.test",
        title="关于购置办公设备的请示",
        doc_number="一分司发〔2026〕15号",
        urgency="加急",
        deadline=date(2026, 12, 5),
        classification="",
        attachments=("办公设备购置清单.xlsx", "供应商报价单.pdf"),
        proposal="拟同意购置，经费从年度办公经费中列支。请财务科、审计科会签后，呈李副总审批。",
        proposal_by="张明",
        proposal_at=at(2026, 11, 21, 10, 3),
        steps=(
            StepView(1, "会签", "财务科、审计科", "科室意见", "已同意", OPINIONS[:2]),
            StepView(2, "或签", "李副总/王副总", "领导批示", "已同意", OPINIONS[2:]),
            StepView(3, "", "王总", "领导批示", "待审批", ()),
        ),
        execute="综合科",
        copies=("行政科", "审计科"),
        state="已批准，待办结",
        result="同意",
        done_report="设备已采购到位并完成验收入库。",
        closed_at=at(2026, 12, 3, 16, 30),
        printed_at=at(2026, 12, 4, 8, 45),
    )
    fields.update(changes)
    return FormData(**fields)


def docx_text(data: bytes) -> str:
    """All visible text of a .docx: header, body paragraphs and every table cell, in order."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.sections[0].header.paragraphs]
    for block in doc.element.body.iterchildren():
        if block.tag == qn("w:p"):
            parts.append("".join(t.text or "" for t in block.iter(qn("w:t"))))
        elif block.tag == qn("w:tbl"):
            for tc in block.iter(qn("w:tc")):
                for p in tc.iter(qn("w:p")):
                    parts.append("".join(t.text or "" for t in p.iter(qn("w:t"))))
    return "\n".join(parts)


def make_env(**options) -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, loader=jinja2.FileSystemLoader(TEMPLATES), **options)
    env.filters.update(FILTERS)
    return env


@pytest.fixture
def env() -> jinja2.Environment:
    return make_env()


# ------------------------------------------------------------------ filters


@pytest.mark.parametrize(
    "value, shown",
    [
        (date(2026, 11, 27), "2026年11月27日"),
        (date(2026, 1, 5), "2026年1月5日"),
        (datetime(2026, 1, 5, 8, 3), "2026年1月5日"),
        (None, ""),
    ],
)
def test_cndate_writes_dates_without_leading_zeros(value, shown):
    assert cndate(value) == shown


@pytest.mark.parametrize(
    "value, shown",
    [
        (datetime(2026, 11, 27, 14, 5), "2026年11月27日 14:05"),
        (at(2026, 1, 5, 8, 3), "2026年1月5日 08:03"),
        (date(2026, 1, 5), "2026年1月5日"),
        (None, ""),
    ],
)
def test_cndatetime_writes_date_and_minutes(value, shown):
    assert cndatetime(value) == shown


def test_filters_are_registered_by_name():
    assert FILTERS == {"cndate": cndate, "cndatetime": cndatetime}


def test_opinion_display_joins_decision_and_text():
    assert OpinionView("甲", "同意", "请抓紧落实。", at(2026, 1, 1)).display == "同意。请抓紧落实。"
    assert OpinionView("甲", "同意", "同意，请抓紧落实。", at(2026, 1, 1)).display == "同意，请抓紧落实。"
    assert OpinionView("甲", "不同意", "", at(2026, 1, 1)).display == "不同意"
    assert OpinionView("甲", "转交", "王副总", at(2026, 1, 1)).display == "转交：王副总"
    # the person's own words stand alone when they carry the decision (批示 verbatim)
    assert OpinionView("甲", "同意", "如拟", at(2026, 1, 1)).display == "如拟"
    assert OpinionView("甲", "同意", "已阅，同意。", at(2026, 1, 1)).display == "已阅，同意。"
    assert OpinionView("甲", "原则同意", "原则同意，但请控制在5万元以内。", at(2026, 1, 1)).display == \
        "原则同意，但请控制在5万元以内。"
    assert OpinionView("甲", "不同意", "此事不宜。", at(2026, 1, 1)).display == "此事不宜。"


# ------------------------------------------------------------------ .docx


def test_docx_opens_and_holds_every_field():
    form = make_form()
    text = docx_text(render_docx(form))
    for expected in (
        "集团公司办公室",
        "报批材料审批单",
        "收文编号", "办请〔2026〕7号",
        "收文日期", "2026年1月5日",
        "来文单位", "第一分公司",
        "来文字号", "一分司发〔2026〕15号",
        "关于购置办公设备的请示",
        "紧急程度", "加急", "密级", "办理时限", "2026年12月5日",
        "办公设备购置清单.xlsx", "供应商报价单.pdf",
        "拟办意见", form.proposal, "拟办人：张明　2026年11月21日",
        "科室意见", "领导批示",
        "执行部门", "综合科",
        "抄送", "行政科、审计科",
        "办理结果", "同意（已批准，待办结）",
        "办结回告", "设备已采购到位并完成验收入库。", "综合科　2026年12月3日",
        "注：此单随文件一起运转、立卷、归档。",
        "打印时间：2026年12月4日 08:45",
    ):
        assert expected in text, expected
    assert "01月" not in text and "1月05日" not in text


def test_docx_holds_every_opinion_with_name_and_date_in_route_order():
    text = docx_text(render_docx(make_form()))
    positions = []
    for op in OPINIONS:
        assert op.display in text
        signature = f"{op.name}　{cndate(op.at)}"
        assert signature in text
        positions.append(text.index(signature))
    assert positions == sorted(positions)
    assert text.index("原则同意。请按规定履行比价程序。") < text.index("审计科　2026年11月24日")


def test_docx_empty_step_shows_its_label_and_state():
    text = docx_text(render_docx(make_form()))
    assert "王总：待审批" in text
    waiting = make_form(steps=(StepView(1, "或签", "李副总/王副总", "领导批示", "未开始", ()),))
    assert "李副总/王副总（或签）：未开始" in docx_text(render_docx(waiting))


def test_docx_shows_defaults_for_unset_urgency_and_classification():
    form = make_form(urgency="", classification="", attachments=(), deadline=None, doc_number="")
    doc = Document(io.BytesIO(render_docx(form)))
    cells = [c.text for c in doc.tables[0].rows[3].cells]
    assert cells[cells.index("紧急程度") + 1] == "普通"
    assert cells[cells.index("密级") + 1] == "无"
    row = [c.text for c in doc.tables[0].rows[4].cells]
    assert row[0] == "附件" and row[1] == "无"


def test_docx_page_is_a4_with_gbt9704_margins():
    section = Document(io.BytesIO(render_docx(make_form()))).sections[0]

    def mm(length) -> float:
        return length / Mm(1)

    assert mm(section.page_width) == pytest.approx(210, abs=0.5)
    assert mm(section.page_height) == pytest.approx(297, abs=0.5)
    assert mm(section.top_margin) == pytest.approx(37, abs=1)
    assert mm(section.left_margin) == pytest.approx(28, abs=1)
    assert mm(section.bottom_margin) == pytest.approx(35, abs=1)
    assert mm(section.right_margin) == pytest.approx(26, abs=1)
    # The table fills the 156 mm text block.
    grid = Document(io.BytesIO(render_docx(make_form()))).tables[0]._tbl.tblGrid
    assert sum(col.w for col in grid.gridCol_lst) / Mm(1) == pytest.approx(156, abs=1)


def test_docx_title_and_body_fonts_set_east_asian_font():
    doc = Document(io.BytesIO(render_docx(make_form())))
    title = next(p for p in doc.paragraphs if p.text == "报批材料审批单")
    run = title.runs[0]
    assert run.font.size.pt == 22
    assert not run.font.bold
    assert run._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert title.alignment == 1  # centred
    for cell in doc.tables[0]._tbl.iter(qn("w:r")):
        assert cell.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert doc.styles["Normal"].element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"


def test_docx_signatures_are_right_aligned():
    doc = Document(io.BytesIO(render_docx(make_form())))
    for op in OPINIONS:
        signature = f"{op.name}　{cndate(op.at)}"
        paragraphs = [p for cell in doc.tables[0]._cells for p in cell.paragraphs if p.text == signature]
        assert paragraphs, signature
        assert all(p.alignment == 2 for p in paragraphs)  # right


def test_docx_is_a_valid_zip_with_title_property():
    data = render_docx(make_form())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert z.testzip() is None
    assert Document(io.BytesIO(data)).core_properties.title == "报批材料审批单（办请〔2026〕7号）"
    assert form_filename(make_form()) == "报批材料审批单（办请〔2026〕7号）.docx"


# ------------------------------------------------------------------ HTML partial


def render_html(env, form) -> str:
    host = env.from_string('<html><body>{% include "_form.html" %}</body></html>')
    return host.render(form=form)


def test_html_partial_holds_every_field_and_opinion(env):
    form = make_form()
    html = render_html(env, form)
    for expected in (
        "办请〔2026〕7号", "2026年1月5日", "第一分公司", "一分司发〔2026〕15号", "关于购置办公设备的请示",
        "加急", "2026年12月5日", "办公设备购置清单.xlsx", form.proposal, "拟办人：张明　2026年11月21日",
        "综合科", "行政科、审计科", "同意（已批准，待办结）", "设备已采购到位并完成验收入库。", "王总：待审批",
    ):
        assert expected in html, expected
    for op in OPINIONS[:2]:
        assert op.display in html
    for op in OPINIONS:
        assert f"{op.name}　{cndatetime(op.at)}" in html


def test_html_partial_escapes_markup_in_an_opinion(env):
    html = render_html(env, make_form())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_html_partial_keeps_line_breaks_of_an_opinion(env):
    op = OpinionView("李副总", "同意", "一、抓紧落实。\n二、控制成本。", at(2026, 11, 27, 14, 5))
    form = make_form(steps=(StepView(1, "", "李副总", "领导批示", "已同意", (op,)),))
    assert "同意。一、抓紧落实。<br>二、控制成本。" in render_html(env, form)


def test_html_partial_is_safe_for_outlook(env):
    html = render_html(env, make_form())
    assert "class=" not in html
    assert "<style" not in html
    assert "flex" not in html and "grid" not in html
    assert "SimSun, 宋体, serif".replace(" ", "") in html.replace(" ", "")
    widths = [int(w) for w in re.findall(r'<td width="(\d+)"', html)]
    assert widths and max(widths) <= 640
    # Every row of the bordered table spans the same eight grid columns.
    inner = html[html.index('border="1"'):]
    inner = inner[: inner.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", inner, flags=re.S)
    assert len(rows) == 5 + 1 + 3 + 4  # registration rows, 拟办意见, three steps, 执行部门 to 办结回告
    for row in rows:
        cells = re.findall(r'<td width="(\d+)"(?: colspan="(\d+)")?', row)
        assert sum(int(span or 1) for _, span in cells) == 8, row[:80]
        assert sum(int(width) for width, _ in cells) == 640, row[:80]


# ------------------------------------------------------------------ text partial


@pytest.mark.parametrize("trim", [False, True])
def test_text_partial_contains_every_opinion(trim):
    env = make_env(trim_blocks=trim, lstrip_blocks=trim)
    form = make_form()
    text = env.get_template("_form.txt").render(form=form)
    for op in OPINIONS:
        assert op.display in text
        assert f"{op.name}　{cndatetime(op.at)}" in text
    assert "标　　题：关于购置办公设备的请示" in text
    assert "办理结果：同意（已批准，待办结）" in text
    assert "领导批示：王总\n    · 待审批\n" in text
    # Plain text is not HTML-escaped, even when the environment escapes everything.
    assert "&lt;" not in text and "<script>" in text


def test_text_partial_is_the_same_with_and_without_trim_blocks(env):
    form = make_form()
    plain = env.get_template("_form.txt").render(form=form)
    trimmed = make_env(trim_blocks=True, lstrip_blocks=True).get_template("_form.txt").render(form=form)
    assert plain == trimmed
    assert "\n\n" not in plain
    lines = plain.splitlines()
    assert lines[0] == "集团公司办公室　报批材料审批单"
    assert "附　　件：办公设备购置清单.xlsx" in lines
    assert "　　　　　供应商报价单.pdf" in lines


def test_text_partial_indents_opinions_under_their_box(env):
    text = env.get_template("_form.txt").render(form=make_form())
    block = text[text.index("科室意见：财务科、审计科（会签）"):text.index("领导批示：李副总")]
    assert "    · 财务科　2026年11月23日 09:40\n      同意。经费在年度预算内，可以列支。\n" in block
