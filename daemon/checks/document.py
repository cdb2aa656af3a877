"""Splits a 请示 into its parts (title, 主送, body, 落款, date, 附件说明) and reads its markings; judges nothing."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date

# ---------------------------------------------------------------- text helpers

_FULLWIDTH = str.maketrans("０１２３４５６７８９．\u3000\u00a0", "0123456789.  ")
ORGAN = r"(公司|集团|局|厅|委员会|委|部|处|科|室|中心|政府|办|院|会|所|队|站|厂|学校|校|馆|行|社|组|团|场)"
LEADER = r"(总经理|董事长|书记|局长|厅长|处长|科长|部长|主任|院长|行长|校长|经理|领导|同志|总|先生|女士)"
GENRES = ("请示报告", "申请报告", "请示", "报告", "申请")
_DATE_ARABIC = r"(\d{2,4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_CN_DIGIT = "〇零○Ｏ0一二三四五六七八九"
_DATE_CHINESE = rf"([{_CN_DIGIT}]{{4}})年([一二三四五六七八九十]{{1,2}})月([一二三四五六七八九十]{{1,3}})日"
_DATE_DOTTED = r"(\d{4})\s*[.\-/]\s*(\d{1,2})\s*[.\-/]\s*(\d{1,2})"
_SEAL = r"[（(]\s*(盖章|印章|章)\s*[)）]"
CLOSING = re.compile(
    r"(妥否|当否|可否|是否妥当|是否可行|如无不妥|如无不当|特此请示|专此请示|以上请示|请示如上)"
    r"[，,。；;\s]*.{0,14}?(请|望|恳请|敬请).{0,12}?(批示|批复|审批|批准|指示|核准|审定|示复|审示|研究|答复|同意)"
    r"|(请|恳请|敬请|望)予?(批示|批复|批准|审批|核准)")
REQUEST = re.compile(r"拟(?!办)|申请|请求|恳请|建议|请予|特请|现请|望(批准|同意)|"
                     r"请(同意|批准|核拨|拨付|审批|支持)|计划(于|在|购|采|召|举|安排)")
REASON = re.compile(r"由于|因为|鉴于|根据|按照|依据|目前|现有|近年来|随着|因|存在|不足|老化|影响|"
                    r"为了?[\u4e00-\u9fa5]{0,4}(总结|做好|保障|加强|满足|落实|推进|确保|提高|解决|适应|规范|进一步)")
SIGNER = re.compile(r"签发人\s*[:：]\s*\S+")


_QUOTE_START = re.compile(r"^-{2,}\s*(原始邮件|原始郵件|Original Message|转发邮件|Forwarded message)|"
                          r"^(在|於).{4,80}(写道|寫道)[:：]?$|^On .{4,120}wrote:$|^_{10,}$")
_HEADER = re.compile(r"^(发件人|寄件者|From|发送时间|发送日期|Sent|Date|日期|收件人|To|主题|Subject)\s*[:：]")


def clean_text(text: str) -> str:
    """Normalise spaces and digits, and cut a quoted earlier mail off a reply."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").translate(_FULLWIDTH).split("\n")
    kept = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if _QUOTE_START.match(stripped):
            break
        if re.match(r"^(发件人|寄件者|From)\s*[:：]", stripped) \
                and sum(1 for l in lines[i:i + 5] if _HEADER.match(l.strip())) >= 3:
            break  # an Outlook/Foxmail header block opens the quoted mail
        if stripped.startswith(">"):
            continue
        kept.append(stripped)
    return "\n".join(kept).strip()


def flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def cn_number(word: str) -> int:
    digits = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "○": 0, "Ｏ": 0, "0": 0}
    if "十" not in word:
        return int("".join(str(digits[c]) for c in word))
    tens, _, ones = word.partition("十")
    return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)


@dataclass
class Doc:
    """One 请示 split into its parts, found once and shared by every rule."""
    text: str
    lines: list[str]
    head: list[str] = field(default_factory=list)     # marking lines before the title
    title: str | None = None
    recipient: str | None = None
    body: str = ""                                      # from the recipient to the 落款
    closing: str | None = None
    signature: str | None = None
    date_text: str | None = None
    date_value: date | None = None
    date_problem: str = ""                              # why the date form is not standard
    listed: list[str] = field(default_factory=list)    # names in 附件说明
    attached: list[str] | None = None                  # other files sent; None = unknown
    cc: str = ""
    today: date = date.min
    classification: str = ""
    subject_title: bool = False                        # title taken from the mail subject
    unreadable: str = ""                               # why an attachment that may be the 请示 was not read


def is_title_line(line: str) -> bool:
    if not line or len(line) > 70 or line.endswith((":", "：", "。")) or "，" in line:
        return False
    return line.startswith("关于") or line.endswith(GENRES)


def _find_date(lines: list[str], start: int) -> tuple[int, str, date | None, str]:
    """Last line from `start` on that is a date alone (or organ + date): (index, text, value, problem)."""
    for i in range(len(lines) - 1, start - 1, -1):
        line = re.sub(_SEAL, "", lines[i]).strip()
        for pattern, kind in ((_DATE_ARABIC, "arabic"), (_DATE_CHINESE, "chinese"), (_DATE_DOTTED, "dotted")):
            m = re.search(pattern + r"\s*$", line)
            if not m or (m.start() and not re.search(ORGAN + r"\s*$", line[:m.start()].strip())):
                continue
            y, mo, d = m.groups()
            problem = ""
            try:
                if kind == "chinese":
                    value = date(cn_number(y), cn_number(mo), cn_number(d))
                    problem = "成文日期使用了汉字数字"
                else:
                    value = date(int(y) + (2000 if len(y) == 2 else 0), int(mo), int(d))
                    if kind == "dotted":
                        problem = "成文日期使用了“.”“-”“/”等简写形式"
                    elif len(y) != 4:
                        problem = "成文日期年份未写全"
                    elif mo.startswith("0") or d.startswith("0"):
                        problem = "成文日期的月、日编了虚位（如“01月”）"
            except (ValueError, KeyError):
                value, problem = None, "成文日期不是有效日期"
            return i, m.group(0), value, problem
    return -1, "", None, ""


def parse(text: str, attached: list[str] | None) -> Doc:
    text = clean_text(text)
    lines = [l for l in text.split("\n") if l]
    doc = Doc(text=text, lines=lines, attached=attached)
    # title: prefer a title-like line followed closely by a recipient line, else the first one near the top
    t_index = -1
    for i, line in enumerate(lines):
        joined = line
        if line.startswith("关于") and not line.endswith(GENRES) and i + 1 < len(lines) \
                and is_title_line(lines[i + 1]) and lines[i + 1].endswith(GENRES):
            joined = line + lines[i + 1]          # a title broken over two lines
        if is_title_line(line) and (i < 8 or any(re.search(r"[:：]$", l) for l in lines[i + 1:i + 3])):
            t_index, doc.title = i, joined
            if joined != line:
                lines[i + 1] = ""
            break
    doc.head = lines[:max(t_index, 0)] if t_index >= 0 else lines[:4]
    after = t_index + 1
    for i in range(after, min(after + 3, len(lines))):
        if lines[i] and len(lines[i]) <= 60 and re.search(r"[:：]$", lines[i]) and "附件" not in lines[i]:
            doc.recipient, after = lines[i].rstrip(":：").strip(), i + 1
            break
    d_index, doc.date_text, doc.date_value, doc.date_problem = _find_date(lines, after)
    end = d_index if d_index >= 0 else len(lines)
    if d_index >= 0:
        m = re.search(_DATE_ARABIC + "|" + _DATE_CHINESE + "|" + _DATE_DOTTED, lines[d_index])
        same_line = lines[d_index][:m.start()].strip() if m else ""
        previous = [(l, i) for i, l in enumerate(lines[after:d_index], after) if l][-1:]
        guesses = [(same_line, d_index)] + previous
    else:  # no date: the 落款 is the last line before the 附注 and 抄送
        tail = [(l, i) for i, l in enumerate(lines) if i >= after and l and not re.search(r"联系人|电话|^抄送", l)]
        guesses = tail[-1:]
    for candidate, index in guesses:
        candidate = re.sub(_SEAL, "", candidate).strip()
        if candidate and len(candidate) <= 40 and not re.search(r"[。，；：:,]|^\d|^附件", candidate) \
                and re.search(ORGAN, candidate):
            doc.signature, end = candidate, min(end, index)
            break
    annex = next((i for i in range(after, end) if re.match(r"^附\s*件\s*[:：]", lines[i])), end)
    doc.body = "\n".join(lines[after:annex])
    found = CLOSING.search(flat(doc.body))
    doc.closing = found.group(0) if found else None
    doc.listed = _listed_attachments(lines[after:end])
    doc.cc = "".join(re.sub(r"^抄送[:：]", "", l) for l in lines if l.startswith("抄送"))
    return doc


def _listed_attachments(lines: list[str]) -> list[str]:
    names: list[str] = []
    for i, line in enumerate(lines):
        m = re.match(r"^附\s*件\s*[:：]\s*(.*)$", line)
        if not m:
            continue
        rest = [m.group(1)] + lines[i + 1:]
        for n, item in enumerate(rest):
            item = item.strip()
            if n and not re.match(r"^\d+\s*[.．、]", item):
                break
            item = re.sub(r"^\d+\s*[.．、]\s*", "", item).strip("《》。；; ")
            if item and item != "无":
                names.append(item)
        break
    return names


def _norm_name(name: str) -> str:
    name = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", name.strip())
    name = re.sub(r"^(附件\s*\d*|\d+)\s*[:：.．、_\-\s]*", "", name)
    return re.sub(r"[\s《》〈〉“”\"'()（）\[\]【】_\-.]", "", name)


def match_attachments(listed: list[str], attached: list[str]) -> tuple[list[str], list[str]]:
    """(named but not sent, sent but not named), pairing each file at most once."""
    remaining = list(attached)
    missing = []
    for name in listed:
        key = _norm_name(name)
        best, best_score = None, 0.0
        for f in remaining:
            other = _norm_name(f)
            score = 1.0 if key and other and (key in other or other in key) else \
                difflib.SequenceMatcher(None, key, other).ratio()
            if score > best_score:
                best, best_score = f, score
        if best is not None and best_score >= 0.6:
            remaining.remove(best)
        else:
            missing.append(name)
    return missing, remaining


# ---------------------------------------------------------------- markings: 密级, 紧急程度, 时限

def urgency_of(subject: str, head: list[str]) -> str:
    """特急 / 加急 from the subject's marking or a marking line at the top; 紧急 and 急件 count as 加急."""
    marks = re.findall(r"(?:^|[\[【(（])\s*(特急|加急|紧急|急件)\s*(?:[\]】)）:：\s]|$)", subject or "")
    for line in head:
        m = re.match(r"^(?:\d{6}\s*)?(?:(?:绝密|机密|秘密)\S*\s*)?(?:紧急程度\s*[:：]\s*)?(特急|加急|紧急|急件)$", line)
        if m:
            marks.append(m.group(1))
    if "特急" in marks:
        return "特急"
    return "加急" if marks else ""


def deadline_of(text: str, today: date) -> date | None:
    """"请于12月5日前批复" and kin, resolved against today (a month-day long past means next year)."""
    m = re.search(r"(?:请|望|恳请|务请|希)?(?:于|在)\s*(?:(\d{4})\s*年)?\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*"
                  r"(?:前|之前|以前)[^。\n]{0,8}?(批示|批复|答复|审批|批准|回复|示复|同意)", flat(text).translate(_FULLWIDTH))
    if not m:
        return None
    year, month, day = m.group(1), int(m.group(2)), int(m.group(3))
    try:
        value = date(int(year) if year else today.year, month, day)
        if not year and (today - value).days > 180:
            value = value.replace(year=today.year + 1)
    except ValueError:
        return None
    return value
