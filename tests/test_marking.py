"""The 密级 marking (SPEC §2): every way people type it is found where GB/T 9704 puts it, and a text that
only mentions the word raises no alarm."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.checks import classification_of
from daemon.checks.marking import normalise
from lanes import examples

TITLE = "关于调整保卫方案的请示"


@pytest.mark.parametrize("subject, level", [
    ("【机密】" + TITLE, "机密"), ("【机 密】" + TITLE, "机密"), ("【机\u3000密】" + TITLE, "机密"),
    ("【机\u200b密】" + TITLE, "机密"), ("〔秘密〕" + TITLE, "秘密"), ("［绝密］" + TITLE, "绝密"),
    ("[机密]" + TITLE, "机密"), ("(机密)" + TITLE, "机密"), ("（机密）" + TITLE, "机密"), ("「机密」" + TITLE, "机密"),
    ("《机密》" + TITLE, "机密"), ("<机密>" + TITLE, "机密"), ("＜机密＞" + TITLE, "机密"), ("『秘密』" + TITLE, "秘密"),
    (TITLE + "（机密）", "机密"), (TITLE + "【機密】", "机密"), (TITLE + " 机密", "机密"), ("機密：" + TITLE, "机密"),
    ("祕密：" + TITLE, "秘密"), ("絕密 " + TITLE, "绝密"), ("絶密★" + TITLE, "绝密"), ("机密：" + TITLE, "机密"),
    ("机密:" + TITLE, "机密"), ("机密★1年 " + TITLE, "机密"), ("秘密★6个月" + TITLE, "秘密"),
    ("机密＊1年 " + TITLE, "机密"), ("机密*十年 " + TITLE, "机密"), ("绝密☆长期 " + TITLE, "绝密"),
    ("机密" + TITLE, "机密"), ("机密-" + TITLE, "机密"), ("密级：机密 " + TITLE, "机密"),
    ("【密级：秘密】" + TITLE, "秘密"), ("&#26426;&#23494;：" + TITLE, "机密"), ("&#x673A;&#x5BC6;★1年" + TITLE, "机密"),
    ("回复：【机密】" + TITLE, "机密"), ("Fw: 机密：" + TITLE, "机密"), ("【機 密★１年】" + TITLE, "机密"),
    ("（机密）（特急）" + TITLE, "机密"), ("秘密 特急 " + TITLE, "秘密"), ("【绝密】【机密】" + TITLE, "绝密"),
    ("㊙" + "密：" + TITLE, "秘密"), ("\u2f4a密", ""),
])
def test_a_marking_in_the_subject_is_found(subject, level):
    assert classification_of(subject, "", []) == level


@pytest.mark.parametrize("lines, level", [
    (["（机密）", TITLE], "机密"),
    (["(机密)", TITLE], "机密"),
    (["【机 密】", TITLE], "机密"),
    (["机密", TITLE], "机密"),
    (["機密", TITLE], "机密"),
    (["机密★1年", TITLE], "机密"),
    (["秘密★6个月", "特急", TITLE], "秘密"),
    (["000123", "机密★1年", "特急", TITLE], "机密"),
    (["000123 机密★1年 特急", TITLE], "机密"),
    (["绝密★长期", TITLE], "绝密"),
    (["机 密 ★ 1 年", TITLE], "机密"),
    (["机\u200b密\u200d★1年", TITLE], "机密"),
    (["\ufeff机密", TITLE], "机密"),
    (["密级：机密", TITLE], "机密"),
    (["密级:绝密  保密期限：10年", TITLE], "绝密"),
    (["份号：000123  密级：秘密  紧急程度：特急", TITLE], "秘密"),
    (["密 级 ： 机 密", TITLE], "机密"),
    (["（机密）" + TITLE], "机密"),
    ([TITLE + "（秘密）"], "秘密"),
    (["&#26426;&#23494;", TITLE], "机密"),
    (["各位领导：", "机密★1年", TITLE], "机密"),
    (["机密，特急", TITLE], "机密"),
])
def test_a_marking_in_the_first_lines_is_found(lines, level):
    assert classification_of("报送请示", "\n".join(lines + ["集团公司：", "妥否，请批示。"]), []) == level


@pytest.mark.parametrize("subject, text", [
    ("关于涉密文件管理办法的请示", "关于涉密文件管理办法的请示\n集团公司：\n为保守秘密，拟修订涉密文件管理办法。"),
    ("关于机密文件管理办法的请示", "关于机密文件管理办法的请示\n集团公司：\n请各部门密切配合。"),
    ("关于加强商业秘密保护的请示", "商业秘密保护是企业的重要工作。"),
    ("关于保守秘密工作的请示", "保守秘密，人人有责。"),
    ("关于做好绝密级档案移交的请示", "绝密级档案须由专人移交。"),
    ("关于机密性要求的请示", "机密性、完整性、可用性。"),
    ("秘密保护工作的请示", "秘密保护工作"),
    ("关于采购的请示", "密级：无\n关于采购的请示"),
    ("关于采购的请示", "密级：非密\n关于采购的请示"),
    ("关于采购的请示", "密级：内部\n关于采购的请示"),
    ("关于采购的请示", "关于采购的请示\n集团公司：\n本请示不涉及秘密。"),
    ("关于采购的请示", "关于采购的请示\n" + "集团公司：\n……\n" * 4 + "机密"),
    ("回复：【办请〔2026〕7号】来信未予办理：标有“机密”标志的文件不经普通邮件办理", "收到。"),
    ("回复：涉密邮件提醒：第一分公司发来标有“机密”的邮件，未予办理", "已阅，请按规定处理。"),
    ("回复：请审批", "同意。\n\n-----原始邮件-----\n机密★1年\n关于采购的请示"),
    ("关于秘书处人员调整的请示", "秘书处现有人员3名。"),
    ("关于购置机要密码设备的请示", "机要密码设备"),
])
def test_a_mere_mention_is_no_marking(subject, text):
    assert classification_of(subject, text, []) == ""


@pytest.mark.parametrize("name, level", [
    ("机密-关于调整保卫方案的请示.docx", "机密"), ("（机密）关于调整保卫方案的请示.docx", "机密"),
    ("【秘密】请示.pdf", "秘密"), ("关于调整保卫方案的请示（绝密）.docx", "绝密"), ("关于调整保卫方案的请示_机密.docx", "机密"),
    ("机密★1年_请示.docx", "机密"), ("機密 請示.doc", "机密"), ("商业秘密保护办法.docx", ""), ("机密文件管理办法.docx", ""),
    ("涉密人员名单说明.docx", ""), ("关于保守秘密的通知.pdf", ""),
])
def test_a_marking_in_an_attachment_name_is_found(name, level):
    assert classification_of("报送请示", "请审阅附件。", [name]) == level


def test_each_attached_document_is_read_not_only_the_request():
    texts = ["请审阅附件。", "关于调整保卫方案的请示\n集团公司：\n妥否，请批示。", "机密★1年\n保卫方案\n一、总体要求"]
    assert classification_of("报送请示", texts, []) == "机密"
    assert classification_of("报送请示", texts[:2], []) == ""


def test_normalise_makes_one_form():
    assert normalise("【機\u200b密】＊１年") == "(机密)★1年"
    assert normalise("&amp;#26426;密") == "机密"


_INVISIBLE = st.sampled_from([" ", "\u3000", "\u00a0", "\u2002", "\u2009", "\u200b", "\u200c", "\u200d", "\u2060",
                              "\ufeff", "\u00ad", "\u180e", "\u202f", "\t", "\ufe0f"])
_GAPS = st.lists(st.text(_INVISIBLE, max_size=3), min_size=2, max_size=2)
_FORMS = st.sampled_from(["{a}{g0}{b}", "【{a}{g0}{b}】", "（{a}{g0}{b}）", "〔{a}{g0}{b}〕", "{a}{g0}{b}★{g1}1年",
                          "密级：{g1}{a}{g0}{b}", "[{g1}{a}{g0}{b}{g1}]"])
_LEVEL_CHARS = st.sampled_from([("机", "密", "机密"), ("機", "密", "机密"), ("秘", "密", "秘密"), ("祕", "密", "秘密"),
                                ("绝", "密", "绝密"), ("絕", "密", "绝密")])


@settings(max_examples=examples(300), deadline=None)
@given(level=_LEVEL_CHARS, gaps=_GAPS, form=_FORMS, where=st.sampled_from(["subject", "line", "name"]))
def test_spaces_and_invisible_characters_inside_a_marking_do_not_hide_it(level, gaps, form, where):
    a, b, expected = level
    mark = form.format(a=a, b=b, g0=gaps[0], g1=gaps[1])
    if where == "subject":
        assert classification_of(mark + "：" + TITLE, "", []) == expected
    elif where == "line":
        assert classification_of("报送请示", f"{mark}\n{TITLE}\n集团公司：", []) == expected
    else:
        assert classification_of("报送请示", "见附件", [f"{mark}_请示.docx"]) == expected


_MENTIONS = st.sampled_from(["保守秘密", "密切配合", "商业秘密保护", "涉密文件管理", "机密文件管理办法", "绝密级档案",
                             "机密性", "工作秘密", "不涉及秘密", "秘密级"])


_ZERO_WIDTH = st.text(st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f"]),
                      max_size=2)


@settings(max_examples=examples(300), deadline=None)
@given(mention=_MENTIONS, inside=_ZERO_WIDTH, gaps=_GAPS, before=st.sampled_from(["关于", "关于加强", "关于做好", "为"]))
def test_a_mention_with_invisible_characters_raises_no_alarm(mention, inside, gaps, before):
    """Zero-width characters inside the words, any blank around them: still a mention, not a marking."""
    text = before + gaps[0] + inside.join(mention) + gaps[1] + "的请示"
    assert classification_of(text, f"{text}\n集团公司：\n请{mention}。", [text + ".docx"]) == ""
