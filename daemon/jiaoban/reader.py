"""The keyword a reply about a 交办 starts with, what follows it, and the element lines it carries (SPEC §6.4).

Pure: the new text comes in already cut from its quotes (daemon.replies.new_text); no database, no mail.
Who may say what in which state is daemon.jiaoban.table's business, not this module's: here `办结` is 办结
whoever writes it, and the table reads it as a report from the lead unit or as a close from the leader.

How a line is read, as an experienced 办公室 reads it:
- the word stands first, followed by the end, punctuation or a space (办结情况如下 is no 办结), or in brackets
  (【进展】); 进展情况： is 进展 and 收到了 is 收到: those only record;
- a greeting line or two before it (李主任： / 您好！) is read past; a sentence before it is not: then the text
  is free text;
- a word that changes the matter (DECISIVE) followed by a question or a negation (办结了吗？ 撤销，可以吗？
  撤销不了 办结了), a report that says it is not done (办结：尚未完成), a 派发 or 更正 whose element lines ask
  (时限：12月5日前？) or a 更正 giving one element two values comes back as Word.DOUBT: asked about, never
  applied (SPEC §6.4: when in doubt, ask);
- a negation before the word (未办结, 不撤销) leaves no word at all: free text.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from daemon import limits


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
    DOUBT = "存疑"          # a keyword the text itself puts in doubt (办结，对吗？ 撤销不了 办结：尚未完成): asked about


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
# Words whose reading changes the matter for good: a question or a negation right after them is asked about.
# 询问, 申请延期, 申请改派 and 请求协调 are questions by nature; 进展 and 签收 only record.
DECISIVE = frozenset({Word.DISPATCH, Word.VOID, Word.KEEP, Word.CO_DONE, Word.REPORT, Word.CHECKED, Word.SEND_BACK,
                      Word.READ, Word.APPROVE, Word.REJECT, Word.CONTINUE, Word.WITHDRAW, Word.CORRECT,
                      Word.REMIND})
# 【进展】 [办结] 〔签收〕: the word in brackets, as people mark it
_BRACKETS = {"【": "】", "[": "]", "〔": "〕", "（": "）", "(": ")", "「": "」", "『": "』", "<": ">", "《": "》", "［": "］"}
# 进展情况： 进展汇报： 签收了 收到了 — the word with a usual tail, read as the word itself (they only record)
_TAILS = {Word.PROGRESS: ("情况", "汇报", "报告"), Word.SIGN: ("了", "啦")}
# right after the word: a question (办结？ 办结了吗 撤销吗) or a negation (撤销不了 同意不了 办结了没有)
_QUESTION_AFTER = re.compile(r"^\s*(?:了|啦)?\s*(?:[?？]|吗|嘛|么|呢|没有?[?？]?$|没有?[,，。]|与否|不[?？]|否[?？])")
_NEGATED_AFTER = re.compile(r"^\s*(?:不|未|没|别|勿)")
# 办结了 撤销了: done already, or to be done? asked (签收 and 进展 take it: 收到了)
_PERFECT = re.compile(r"^(?:了|啦)\s*(?:$|[\s,，。.;；!！、])")
_STRIP = " \t:：,，。.;；!！、﹕"
# the first clause after the word asks (办结，对吗？ 撤销，可以吗 阅，是否印发？)
_ASKING = re.compile(r"[?？]|吗|是否|能否|可否|行不行|可不可以|对不对|好不好|要不要|妥否|当否|呢$")
# a report that says it is not done (办结：尚未完成 复命：目前还没有办完)
_NOT_DONE = re.compile(r"(?:尚未|还未|暂未|仍未|未能|没能|还没有?|尚没有?|没有|未)\s*(?:全部|完全)?\s*"
                       r"(?:完成|办结|办完|办好|结束|完毕|落实|到位|完工)")
# after 阅 or 同意, words that send the work back (阅。退回重写): closing or 继续办理? (补充, 修改 … are
# daemon.jiaoban.report's, which asks about them on the 请阅示)
_REOPEN = re.compile(r"退回|重办|重写|重做|重来|重新|打回|返工|再核|再改|再查|有误|有错|不妥|不行|不可以|暂缓|先别|不要印发|"
                     r"不同意|继续办理")
# a first line that only greets: 李主任：  各位领导：  王总，您好！  您好：
_TITLES = ("主任", "副主任", "总", "总经理", "领导", "同志", "同事", "科长", "处长", "部长", "局长", "书记", "经理",
           "老师", "秘书", "主席", "院长", "厂长", "董事长", "组长", "股长", "所长", "办公室", "们")
_GREETING = re.compile(r"^(?:尊敬的)?\s*(?:[\u4e00-\u9fff·]{0,8}?(?:" + "|".join(sorted(_TITLES, key=len, reverse=True))
                       + r")(?:[,，\s]*(?:您好|你好|好))?|您好|你好|大家好|各位好|各位)\s*[:：,，!！。]?\s*$")
MAX_GREETING_LINES = 2
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
    doubt: str = ""                     # why the keyword is doubted (Word.DOUBT), in Chinese
    doubted: Word | None = None         # the keyword doubted
    greeted: bool = False               # a greeting line (李主任：) stood before the keyword line
    doubt_in_lines: bool = False        # the doubt is in the element lines (时限：12月5日前？), not in the word
    written: str = ""                   # the keyword as written (收到 for 签收, 已阅 for 阅, 复命 for 办结)

    @property
    def verb(self) -> Word:            # what daemon.rules.apply matches the table's rows on
        return self.word


def _norm(text: str) -> str:
    """Line ends and invisible characters evened out; the words stay as written (opinions are kept verbatim)."""
    text = (text or "").replace("\u200b", "").replace("\ufeff", "").replace("\u3000", " ")
    text = limits.printable(text.replace("\x0c", "\n").replace("\x0b", "\n"))   # unseen, as a client shows it
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


def _shown(text: str, limit: int = 40) -> str:
    return limits.clip(text.strip(), limit)


def is_greeting(line: str) -> bool:
    """A line that only greets (李主任：), no keyword of ours in it."""
    line = line.strip()
    return 0 < len(line) <= 20 and bool(_GREETING.match(line)) and not any(line.startswith(w) for w in _ORDERED)


def _word_at(first: str) -> tuple[Word, str, str]:
    """The keyword `first` starts with (perhaps in brackets), what follows it, and why it is doubted ("" when
    it is not): (TEXT, first, "") when the line starts with none."""
    opened = _BRACKETS.get(first[:1])
    body = first[1:].lstrip() if opened else first
    for w in _ORDERED:
        if not body.startswith(w):
            continue
        word, after = _WORDS[w], body[len(w):]
        if opened:
            if not after.lstrip().startswith(opened):
                continue
            after = after.lstrip()[1:]
            return word, after.lstrip(_STRIP), ""
        for tail in _TAILS.get(word, ()):
            if after.startswith(tail) and _AFTER_WORD.match(after, len(tail)):
                after = after[len(tail):]
                break
        if word in DECISIVE and (_QUESTION_AFTER.match(after) or _NEGATED_AFTER.match(after)
                                 or _PERFECT.match(after)):
            why = ("带有疑问" if _QUESTION_AFTER.match(after) else "带有否定" if _NEGATED_AFTER.match(after)
                   else f"看不出是已经{w}还是要求{w}")
            return Word.DOUBT, first, f"“{_shown(first)}”{why}"
        if not _AFTER_WORD.match(after):
            continue
        rest = after.lstrip(_STRIP)
        if word in DECISIVE:
            clause = re.split(r"[,，。.;；!！\n]", rest, maxsplit=1)[0]
            if _ASKING.search(clause):
                return Word.DOUBT, first, f"“{_shown(first)}”是一个问句"
            if word in (Word.REPORT, Word.CO_DONE):
                sentence = re.split(r"[。.;；!！\n]", rest, maxsplit=1)[0]
                if _NOT_DONE.search(sentence):
                    return Word.DOUBT, first, f"“{_shown(first)}”写了{w}，又说尚未完成"
        return word, rest, ""
    return Word.TEXT, first, ""


def _without_head(line: str, number_pattern: re.Pattern | None) -> str:
    """The line without the number or 序号 it may begin with (督办〔2026〕3号 办结：… / 2 进展：…)."""
    line = line.strip()
    if number_pattern is not None and (m := number_pattern.match(line[:200])):
        return line[m.end():].lstrip(" ：:，,")
    m = _ITEM.match(line)
    return line[m.end():] if m else line


def read(new_text: str, number_pattern: re.Pattern | None = None) -> Said:
    """What a reply says. `number_pattern` finds a 交办 number a reply to a reminder list may begin with.
    A keyword the text puts in doubt comes back as Word.DOUBT with the reason in `doubt` and the word in
    `doubted`: it is asked about, never applied."""
    text = _norm(new_text).strip()
    lines = text.split("\n") if text else []
    start, greetings = 0, 0              # a greeting line or two (李主任：) before the keyword line
    while start < len(lines) and start < 2 * MAX_GREETING_LINES + 2 and (
            not lines[start].strip() or is_greeting(lines[start]) and greetings < MAX_GREETING_LINES):
        greetings += bool(lines[start].strip())
        start += 1
    if start >= len(lines) or start > 0 and _word_at(_without_head(lines[start], number_pattern))[0] == Word.TEXT:
        start = 0                        # only a greeting, or no keyword after it: the text as written
    first = lines[start].strip() if lines else ""
    item, number = None, ""
    if number_pattern is not None and (m := number_pattern.match(first[:200])):
        number, first = m.group(0), first[m.end():].lstrip(" ：:，,")
        if not first:                    # the number alone on its line (督办〔2026〕3号⏎办结：……): the next line
            start = next((i for i in range(start + 1, min(len(lines), start + 3)) if lines[i].strip()), start)
            first = lines[start].strip() if start < len(lines) and not number_pattern.match(lines[start]) else ""
    elif (m := _ITEM.match(first)) and any(first[m.end():].startswith(w) for w in _ORDERED):
        item, first = int(m[1]), first[m.end():]
    word, rest_of_line, doubt = _word_at(first)
    doubted = next((_WORDS[w] for w in _ORDERED if first.startswith(w)), None) if word == Word.DOUBT else None
    fields, others = fields_of(lines[start + 1:])
    if word in (Word.TEXT, Word.DOUBT):
        fields, others = fields_of(lines[start:])
        body = "\n".join(others).strip()
    else:
        head_fields, _ = fields_of([rest_of_line])
        for k, v in head_fields.items():        # 派发 时限：12月5日前 on one line
            fields.setdefault(k, []).extend(v)
        body = "\n".join(([] if head_fields else [rest_of_line]) + others).strip()
    in_lines = False
    if word in (Word.READ, Word.APPROVE) and (hit := _REOPEN.search(body[:300])):
        written = next((w for w in _ORDERED if first.lstrip("".join(_BRACKETS)).startswith(w)), word.value)
        doubt = f"写了“{written}”，又写了“{hit.group(0)}”，看不出是办结还是继续办理"
        word, doubted = Word.DOUBT, word
        fields, others = fields_of(lines[start:])
        body = "\n".join(others).strip()
    if word in (Word.DISPATCH, Word.CORRECT) and (why := _doubtful_lines(word, fields)):
        word, doubted, doubt, in_lines = Word.DOUBT, word, why, True
        fields, others = fields_of(lines[start:])
        body = "\n".join(others).strip()
    written = next((w for w in _ORDERED if first.lstrip("".join(_BRACKETS)).startswith(w)), "")
    return Said(word, body, fields, item, number, text, doubt, doubted, start > 0, in_lines,
                written if word != Word.TEXT else "")


# elements with one value: two different lines of one of them in a 更正 leave which one open
SINGLE = ("内容", "时限", "承办", "紧急", "反馈周期", "交办领导", "来源")


def _doubtful_lines(word: Word, fields: dict[str, list[str]]) -> str:
    """Why the element lines of a 派发 or 更正 are no decision: one of them asks (时限：12月5日前？), or a 更正
    gives one element two different values ("" when they are clear). A 派发's own checks refuse the rest."""
    for key, values in fields.items():
        for value in values:
            if _ASKING.search(value[:200]):
                return f"“{key}：{_shown(value, 30)}”一行是一个问句"
    if word == Word.CORRECT:
        for key in SINGLE:
            values = list(dict.fromkeys(v.strip() for v in fields.get(key, []) if v.strip()))
            if len(values) > 1:
                return (f"“{key}：”写了{len(values)}行且不一致（“{_shown(values[0], 20)}”与“{_shown(values[1], 20)}”），"
                        "不知以哪一行为准")
    return ""
