"""The 请示 format check against the generated samples, the markings, the settings and the command line."""

from __future__ import annotations

import functools
import os
from datetime import date
from email.message import EmailMessage
from types import SimpleNamespace

import pytest

from daemon import checks, doctext
from daemon.checks import RETURN, RULES, check, check_file, classification_of, format_findings, main_check
from tests.samples_qingshi import FAULTS, TODAY, Sample, available_forms, cjk_font, drafts, finish, samples


@functools.lru_cache(maxsize=None)
def all_samples() -> tuple[Sample, ...]:
    return tuple(samples(available_forms()))


def settings(**kw):
    base = dict(disabled=(), severity={}, require_signer=False, suggestions={})
    base.update(kw)
    return SimpleNamespace(**base)


@functools.lru_cache(maxsize=None)
def run(sample: Sample):
    """The check of a sample, made once for the module: it is pure, and a PDF is read in a child process."""
    return check(sample.subject, sample.body, list(sample.attachments), TODAY,
                 settings(require_signer=sample.require_signer))


def test_there_are_enough_samples_in_every_form():
    made = all_samples()
    assert len(made) >= 40
    forms = {s.form for s in made}
    assert {"body", "docx"} <= forms
    assert sum(1 for s in made if not s.expected) >= 9
    assert sum(1 for s in made if len(s.expected) >= 2) >= 4


def test_every_rule_is_exercised_by_a_sample():
    expected = set().union(*(s.expected for s in all_samples()))
    assert set(RULES) == expected


@pytest.mark.parametrize("sample", all_samples(), ids=lambda s: s.name)
def test_sample_yields_exactly_its_findings(sample):
    result = run(sample)
    assert {f.rule for f in result.findings} == sample.expected
    assert result.title == sample.title
    assert result.urgency == sample.urgency
    assert result.deadline == sample.deadline
    assert result.classification == sample.classification
    assert result.must_return == any(f.severity == RETURN for f in result.findings)
    if sample.form in ("docx", "pdf"):
        assert result.source == sample.attachments[0][0]


def test_no_correct_sample_must_be_returned():
    correct = [s for s in all_samples() if not s.expected]
    assert correct
    for sample in correct:
        result = run(sample)
        assert not result.must_return, (sample.name, result.findings)


def test_pdf_samples_run_when_a_cjk_font_exists_or_in_ci():
    if cjk_font() is None:
        if os.environ.get("CI"):
            pytest.fail("no CJK font for the PDF samples; install fonts-wqy-microhei")
        pytest.skip("no CJK font on this machine (install fonts-wqy-microhei); PDF samples not built")
    pdfs = [s for s in all_samples() if s.form == "pdf"]
    assert len(pdfs) >= 10
    faulty = [s for s in pdfs if s.expected]
    assert {f.rule for s in faulty for f in run(s).findings} >= {"title", "date"}


def test_findings_come_must_return_first_with_reason_and_suggestion():
    sample = next(s for s in all_samples() if s.name.startswith("genre+copy_down+date_format"))
    result = run(sample)
    severities = [f.severity for f in result.findings]
    assert severities == sorted(severities, key=lambda s: s != RETURN)
    assert severities[-1] == "提示"
    for f in result.findings:
        assert f.reason and f.suggestion and f.message


def test_each_fault_alone_changes_one_rule_only():
    for fault, (expected, change) in FAULTS.items():
        d = drafts()["equipment"]
        change(d)
        d = finish(d)
        sent = d.sent if d.sent is not None else d.annexes
        result = check("报送请示", "\n".join(d.lines()), sent, TODAY)
        assert {f.rule for f in result.findings} == expected, fault


@pytest.mark.parametrize("title, several", [
    ("关于购置办公设备和召开年度工作总结会议的请示", True),
    ("关于召开年度工作会议及表彰先进集体的请示", True),
    ("关于解决若干问题的请示", True),
    ("关于申请购置和安装空调的请示", False),      # one matter: buy and install
    ("关于调整和增加安全生产专项经费的请示", False),
    ("关于购置电脑、打印机的请示", False),          # one purchase of several things
    ("关于召开年度会议有关事项的请示", False),
])
def test_one_matter_reads_the_title(title, several):
    body, annexes = correct_body()
    body = body.replace("关于购置办公设备的请示", title)
    found = {f.rule for f in check("请示", body, annexes, TODAY).findings}
    assert ("one_matter" in found) == several


@pytest.mark.parametrize("contact, message", [
    ("（联系人：张明，联系电话：0571-88001234）", None),
    ("（联系人及电话：张明 13800000000）", None),
    ("（联 系 人：张明；手机：13800000000）", None),
    ("（联系人：张明）", "未注明联系电话"),
    ("（电话：0571-88001234）", "未注明联系人"),
    ("", "未注明联系人和联系电话"),
])
def test_contact_forms(contact, message):
    body, annexes = correct_body()
    body = body.replace("（联系人：张明，联系电话：0571-88001234）", contact)
    found = [f.message for f in check("请示", body, annexes, TODAY).findings]
    assert found == ([message] if message else [])


def test_a_resubmission_reply_is_judged_by_its_new_attachment_not_the_quoted_mail():
    from tests.samples_qingshi import _docx
    body, annexes = correct_body()
    quoted = ("已按要求修改，请审核。\n\n发件人：集团公司办公室\n发送时间：2026年11月27日 10:00\n"
              "收件人：第一分公司\n主题：【办请〔2026〕1号】退回\n\n" + body.replace("妥否，请批示。", ""))
    revised = _docx(body.split("\n"))
    result = check("回复：【办请〔2026〕1号】退回", quoted, [("修改稿.docx", revised)] + annexes, TODAY)
    assert result.source == "修改稿.docx" and result.findings == ()


# ---------------------------------------------------------------- settings

def correct_body() -> tuple[str, list]:
    d = finish(drafts()["equipment"])
    return "\n".join(d.lines()), d.annexes


def test_disabled_rules_are_not_run():
    body, annexes = correct_body()
    body = body.replace("妥否，请批示。", "")
    assert {f.rule for f in check("请示", body, annexes, TODAY).findings} == {"closing"}
    assert check("请示", body, annexes, TODAY, settings(disabled=("closing",))).findings == ()


def test_severity_and_suggestion_can_be_overridden():
    body, annexes = correct_body()
    body = body.replace("妥否，请批示。", "")
    result = check("请示", body, annexes, TODAY,
                   settings(severity={"closing": "提示"}, suggestions={"closing": "结尾请写“妥否，请批示”。"}))
    (finding,) = result.findings
    assert finding.severity == "提示" and not result.must_return
    assert finding.suggestion == "结尾请写“妥否，请批示”。"


def test_signer_is_checked_only_when_required():
    body, annexes = correct_body()
    assert check("请示", body, annexes, TODAY, settings(require_signer=False)).findings == ()
    result = check("请示", body, annexes, TODAY, settings(require_signer=True))
    assert [f.rule for f in result.findings] == ["signer"] and result.must_return


def test_none_settings_mean_defaults():
    body, annexes = correct_body()
    assert check("请示", body, annexes, TODAY, None).findings == ()


# ---------------------------------------------------------------- markings

@pytest.mark.parametrize("subject, text, names, level", [
    ("机密：关于调整生产计划的请示", "", [], "机密"),
    ("【秘密】关于采购的请示", "", [], "秘密"),
    ("关于采购的请示", "000123\n机密★1年\n特急\n关于采购的请示", [], "机密"),
    ("关于采购的请示", "秘密\n关于采购的请示\n集团公司：", [], "秘密"),
    ("关于采购的请示", "密级：绝密\n关于采购的请示", [], "绝密"),
    ("报送请示", "请审阅附件", ["秘密-关于采购的请示.docx"], "秘密"),
    ("报送请示", "正文提到文件标注“秘密★10年”", [], "秘密"),
    ("关于加强保密工作的请示", "本事项做好保密工作。", [], ""),
    ("关于保护商业秘密的请示", "", ["商业秘密保护办法.docx"], ""),
    ("关于采购的请示", "关于采购的请示\n集团公司：\n本请示不涉及秘密。", [], ""),
    ("关于采购的请示", "关于采购的请示\n集团公司：\n……\n" * 3 + "秘密", [], ""),
    ("关于做好工作秘密管理的请示", "密级：无", [], ""),
    ("关于机要秘密通信设备的请示", "", [], ""),
])
def test_classification_of(subject, text, names, level):
    assert classification_of(subject, text, names) == level


def test_quoted_text_cannot_mark_a_reply_classified():
    text = "同意。\n\n-----原始邮件-----\n机密★1年\n关于采购的请示"
    assert classification_of("回复：请审批", text, []) == ""


@pytest.mark.parametrize("subject, head, urgency", [
    ("【特急】关于采购的请示", [], "特急"),
    ("加急：关于采购的请示", [], "加急"),
    ("(紧急)关于采购的请示", [], "加急"),
    ("关于紧急采购防汛物资的请示", [], ""),
    ("报送请示", ["紧急程度：特急"], "特急"),
    ("报送请示", ["机密★1年 加急"], "加急"),
    ("报送请示", ["签发人：王强"], ""),
])
def test_urgency(subject, head, urgency):
    assert checks.urgency_of(subject, head) == urgency


@pytest.mark.parametrize("text, deadline", [
    ("妥否，请于12月5日前批复。", date(2026, 12, 5)),
    ("恳请在2027年1月10日之前审批。", date(2027, 1, 10)),
    ("请于1月10日前批复。", date(2027, 1, 10)),  # month-day long past: next year
    ("拟于12月10日召开会议。妥否，请批示。", None),
    ("请于13月40日前批复。", None),
])
def test_deadline(text, deadline):
    assert checks.deadline_of(text, TODAY) == deadline


# ---------------------------------------------------------------- where the text comes from

def test_attachment_names_are_matched_loosely_both_ways():
    missing, extra = checks.document.match_attachments(
        ["《购置清单》", "报价单", "供应商资质证明"], ["附件1-购置清单.xlsx", "附件2：报价单.pdf", "现场照片.jpg"])
    assert missing == ["供应商资质证明"] and extra == ["现场照片.jpg"]


def test_cover_note_with_an_unreadable_document_only_says_so(monkeypatch):
    monkeypatch.setattr(doctext, "soffice_path", lambda: None)
    result = check("报送请示", "请审阅附件。", [("关于购置办公设备的请示.doc", b"\xd0\xcf\x11\xe0 old word"),
                                           ("购置清单.xlsx", b"PK")], TODAY)
    assert [f.rule for f in result.findings] == ["unreadable"]
    assert "未安装 LibreOffice" in result.findings[0].message
    assert not result.must_return


def test_an_unreadable_annex_does_not_hide_a_good_request_in_the_body():
    body, annexes = correct_body()
    result = check("报送请示", body, annexes + [("照片.jpg", b"\xff\xd8")], TODAY)
    assert {f.rule for f in result.findings} == {"attachment_unlisted"}


def test_the_request_is_found_among_several_documents():
    from tests.samples_qingshi import _docx
    d = finish(drafts()["meeting"])
    annex = _docx(["2027年度安全生产工作会议议程", "一、总结2026年度工作", "请各单位准时参会。"])
    request = _docx(d.lines())
    result = check("报送", "附件是请示，请审阅。", [("会议议程.docx", annex), ("请示.docx", request)], TODAY)
    assert result.source == "请示.docx" and result.findings == ()
    assert result.title == "关于召开2027年度安全生产工作会议的请示"


def write_eml(path, body, attachments, subject="报送请示"):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "unit1@example.test", "office@example.test", subject
    msg.set_content(body)
    for name, data in attachments:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    path.write_bytes(bytes(msg))


def test_check_file_reads_a_saved_mail_with_its_attachments(tmp_path):
    body, annexes = correct_body()
    write_eml(tmp_path / "ok.eml", body, annexes)
    assert check_file(tmp_path / "ok.eml", TODAY).findings == ()
    write_eml(tmp_path / "short.eml", body, annexes[:1])
    result = check_file(tmp_path / "short.eml", TODAY)
    assert [f.rule for f in result.findings] == ["attachment_missing"] and result.must_return


def test_check_file_on_a_lone_document_does_not_compare_attachments(tmp_path):
    body, _ = correct_body()
    (tmp_path / "q.txt").write_bytes(body.encode("gb18030"))
    result = check_file(tmp_path / "q.txt", TODAY)
    assert result.findings == () and result.source == "q.txt"


# ---------------------------------------------------------------- output

def test_format_findings_puts_must_return_first_in_chinese():
    body, annexes = correct_body()
    body = body.replace("2026年11月20日", "2026年11月02日").replace("集团公司：", "李副总：")
    text = format_findings(check("请示", body, annexes, TODAY).findings)
    assert text.startswith("自动审查意见（共2条，其中须退回修改1条）：")
    assert text.index("【退回】") < text.index("【提示】")
    assert "主送对象为领导个人（李副总）" in text and "建议：" in text and "依据：" in text
    assert "未发现" in format_findings(())


def test_main_check_exit_codes_and_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-28T09:00:00+08:00")
    body, _ = correct_body()
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(body, encoding="utf-8")
    bad.write_text(body.replace("妥否，请批示。", "").replace("2026年11月20日", "2026.11.20"), encoding="utf-8")
    assert main_check(str(good)) == 0
    assert "未发现" in capsys.readouterr().out
    assert main_check(str(bad)) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("【退回】closing") and lines[1].startswith("【提示】date_format")
    assert main_check(str(tmp_path / "absent.docx")) == 2
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    assert main_check(str(tmp_path / "x.xlsx")) == 2
    (tmp_path / "broken.docx").write_bytes(b"not a docx")
    assert main_check(str(tmp_path / "broken.docx")) == 2
    assert "无法审查" in capsys.readouterr().err


def test_main_check_judges_dates_by_officeflow_now(tmp_path, monkeypatch, capsys):
    body, _ = correct_body()
    path = tmp_path / "q.txt"
    path.write_text(body, encoding="utf-8")
    monkeypatch.setenv("OFFICEFLOW_NOW", "2026-11-10T09:00:00+08:00")  # before the 成文日期
    assert main_check(str(path)) == 1
    assert "【退回】date" in capsys.readouterr().out
