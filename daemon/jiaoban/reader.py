"""The keyword a reply about a 交办 starts with, what follows it, and the element lines it carries (SPEC §6.4).

Pure: the new text comes in already cut from its quotes (daemon.replies.new_text); no database, no mail.
Who may say what in which state is daemon.jiaoban.table's business, not this module's: here `办结` is 办结
whoever writes it, and the table reads it as a report from the lead unit or as a close from the leader.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class Word(enum.Enum):
    DISPATCH = "派发"
    ASK = "询问"
    VOID = "作废"
    KEEP = "维持"
    PROGRESS = "进展"
    CO_DONE = "协办完毕"
    EXTEND = "申请延期"
    COORDINATE = "请求协调"
    REASSIGN = "申请改派"
    SIGN = "签收"           # also 收到
    REPORT = "办结"         # also 复命; from the leader on 请阅示: closed
    CHECKED = "核报"
    SEND_BACK = "退回"
    READ = "阅"             # also 已阅, 可以
    APPROVE = "同意"
    REJECT = "不同意"
    CONTINUE = "继续办理"   # also 重办
    WITHDRAW = "撤销"
    CORRECT = "更正"
    REMIND = "催办"
    QUERY = "查询"
    TEXT = "其他"           # none of these: free text (an answer to 询问, to 请求协调, or a report of sorts)


# The words a reply may start with, longest first (不同意 before 同意, 协办完毕 before 协办 …). A word counts
# only at the very start of the reply's first line, followed by the end, punctuation or a space: 办结情况如下 is
# no 办结, 同意见 is no 同意.
_WORDS: dict[str, Word] = {
    "派发": Word.DISPATCH, "询问": Word.ASK, "作废": Word.VOID, "维持": Word.KEEP, "进展": Word.PROGRESS,
    "协办完毕": Word.CO_DONE, "申请延期": Word.EXTEND, "请求协调": Word.COORDINATE, "申请改派": Word.REASSIGN,
    "签收": Word.SIGN, "收到": Word.SIGN, "办结": Word.REPORT, "复命": Word.REPORT, "核报": Word.CHECKED,
    "退回": Word.SEND_BACK, "已阅": Word.READ, "阅": Word.READ, "可以": Word.READ, "同意": Word.APPROVE,
    "不同意": Word.REJECT, "继续办理": Word.CONTINUE, "重办": Word.CONTINUE, "撤销": Word.WITHDRAW,
    "更正": Word.CORRECT, "催办": Word.REMIND, "查询": Word.QUERY,
}
_ORDERED = sorted(_WORDS, key=len, reverse=True)
_AFTER_WORD = re.compile(r"$|[\s:：,，。.;；!！、﹕]")
# An element line of a 核定 reply or of a leader's text: 时限：12月5日前
ELEMENT_KEYS = ("内容", "时限", "要求", "承办", "协办", "紧急", "反馈周期", "交办领导", "来源", "核报意见")
_ELEMENT = re.compile(r"^\s*(" + "|".join(ELEMENT_KEYS) + r")\s*[:：]\s*(.*)$")
# 2 进展：…  /  第2项 进展：…  /  督办〔2026〕3号 进展：… — the item of a reminder list a reply is about
_ITEM = re.compile(r"^\s*(?:第\s*)?(\d{1,3})\s*(?:项|[.．、)）]|\s)\s*")


@dataclass(frozen=True)
class Said:
    word: Word
    text: str = ""                      # what follows the word on its line and the lines after, element lines out
    fields: dict[str, list[str]] = field(default_factory=dict)   # element lines: key -> values, in order
    item: int | None = None             # the 序号 a reply to a reminder list begins with
    number: str = ""                    # or the number it begins with (set by the caller, which knows formats)
    new_text: str = ""

    @property
    def verb(self) -> Word:            # what daemon.rules.apply matches the table's rows on
        return self.word


def _norm(text: str) -> str:
    """Line ends and invisible characters evened out; the words stay as written (opinions are kept verbatim)."""
    text = (text or "").replace("\u200b", "").replace("\ufeff", "").replace("\u3000", " ")
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def fields_of(lines: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    """The element lines (key: values) among `lines`, and the other lines."""
    found: dict[str, list[str]] = {}
    rest = []
    for line in lines:
        m = _ELEMENT.match(line)
        if m:
            found.setdefault(m[1], []).append(m[2].strip())
        else:
            rest.append(line)
    return found, rest


def read(new_text: str, number_pattern: re.Pattern | None = None) -> Said:
    """What a reply says. `number_pattern` finds a 交办 number a reply to a reminder list may begin with."""
    text = _norm(new_text).strip()
    lines = text.split("\n") if text else []
    first = lines[0].strip() if lines else ""
    item, number = None, ""
    if number_pattern is not None and (m := number_pattern.match(first)):
        number, first = m.group(0), first[m.end():].lstrip(" ：:，,")
    elif (m := _ITEM.match(first)) and any(first[m.end():].startswith(w) for w in _ORDERED):
        item, first = int(m[1]), first[m.end():]
    word, rest_of_line = Word.TEXT, first
    for w in _ORDERED:
        if first.startswith(w) and _AFTER_WORD.match(first, len(w)):
            word, rest_of_line = _WORDS[w], first[len(w):].lstrip(" \t:：,，。.;；!！、")
            break
    fields, others = fields_of(lines[1:])
    if word == Word.TEXT:
        fields, others = fields_of(lines)
        body = "\n".join(others).strip()
    else:
        head_fields, _ = fields_of([rest_of_line])
        for k, v in head_fields.items():        # 派发 时限：12月5日前 on one line
            fields.setdefault(k, []).extend(v)
        body = "\n".join(([] if head_fields else [rest_of_line]) + others).strip()
    return Said(word, body, fields, item, number, text)
