"""The new text of a reply and the decision it states; pure: no database, no network, no idea who sent it."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field

from daemon.mime import ParsedMail, html_to_text, strip_subject_prefixes

__all__ = [
    "FINGERPRINT_RE",
    "PLACEHOLDERS",
    "SHAPE_LABELS",
    "Lexicon",
    "Offer",
    "Reply",
    "Verb",
    "classify",
    "fingerprint",
    "new_text",
    "read_reply",
]

# ---------------------------------------------------------------- our own fingerprint

FINGERPRINT_RE = re.compile(r"〔流转码[:：]\s*([A-Z0-9]{4,8})〕")
_HTML_FINGERPRINT = re.compile(r"<[a-z0-9]+\b[^>]*\bid\s*=\s*[\"']?[\w-]*officeflow-mail\b", re.I)


def fingerprint(code: str) -> str:
    """The marker that must stand in the first line of the text body of every mail we send."""
    if not re.fullmatch(r"[A-Z0-9]{4,8}", code):
        raise ValueError(f"flow code must be 4-8 upper-case letters or digits: {code!r}")
    return f"〔流转码：{code}〕"


# ---------------------------------------------------------------- cutting the quote

# Where a client's quote starts in HTML; everything from the earliest hit on is the quote.
_HTML_MARKERS = [
    _HTML_FINGERPRINT,
    re.compile(r"<div\b[^>]*\bid\s*=\s*[\"']?(?:x_)?original-content", re.I),               # QQ / Exmail
    re.compile(r"<[a-z]+\b[^>]*border-top\s*:\s*solid\s+#(?:B5C4DF|E1E1E1)", re.I),         # Foxmail, Outlook
    re.compile(r"<hr\b[^>]*display\s*:\s*inline-block\s*;\s*width\s*:\s*98%", re.I),        # Outlook web
    re.compile(r"<div\b[^>]*\bid\s*=\s*[\"']?(?:x_)?divRplyFwdMsg", re.I),                  # Outlook
    re.compile(r"<[a-z]+\b[^>]*\bid\s*=\s*[\"']?(?:x_)?appendonsend", re.I),                # Outlook
    re.compile(r"<[a-z]+\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\bgmail_(?:quote|attr)\b", re.I),  # Gmail
    re.compile(r"<[a-z]+\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\bmoz-cite-prefix\b", re.I),     # Thunderbird
    re.compile(r"<blockquote\b[^>]*\btype\s*=\s*[\"']?cite", re.I),                         # Apple, Thunderbird
    re.compile(r"<[a-z]+\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\bntes-mailmaster-quote\b", re.I),  # Mail Master
    re.compile(r"<(?:div|blockquote)\b[^>]*\bid\s*=\s*[\"']?is(?:Reply|Forward)Content", re.I),  # Coremail
    re.compile(r"<[a-z]+\b[^>]*\bclass\s*=\s*[\"']?[^\"'>]*\byahoo_quoted\b", re.I),        # Yahoo
    # Signatures, not quotes: nothing the sender typed follows them. QQ Mail / Exmail wrap a configured
    # signature in <sign signid=…> and open it with a gray Arial Narrow rule of dashes.
    re.compile(r"<sign\b", re.I),                                                           # QQ / Exmail
    re.compile(r"<div\b[^>]*[\s;\"']color\s*:\s*#909090\b[^>]*>(?:\s|&nbsp;|&#160;)*"
               r"(?:-|&#45;|&#x2d;|\u2014|&mdash;|\uff0d){2,}(?:\s|&nbsp;|&#160;)*</div>", re.I),  # QQ / Exmail
]

_SEPARATOR = re.compile(
    r"^-{2,}\s*(原始邮件|原邮件|回复的原邮件|转发的邮件|原始郵件|原始郵件|original message|forwarded message|"
    r"replied message|reply message|message d'origine|ursprüngliche nachricht)\s*-{2,}|^_{10,}\s*$|"
    r"^-{2,}\s*(original message|原始邮件)\s*$",
    re.I,
)
_ATTRIBUTION = [
    re.compile(r"^在\s*.{0,100}写道\s*[:]?\s*$"),
    re.compile(r"^.{0,150}于\s*\d{4}.{0,60}写道\s*[:]?\s*$"),
    re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日.{0,80}写道\s*[:]\s*$"),
    re.compile(r"^.{0,40}\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}.{0,120}(写道|寫道|wrote)\s*[:]?\s*$", re.I),
    re.compile(r"^(-{2,}\s*)?on\b.{0,200}\bwrote\s*[:\-\s]*$", re.I),
    re.compile(r"^\d{4}[-/]\d{1,2}[-/]\d{1,2} .{0,60}<[^>]+>\s*:?\s*$"),
]
_HEADER_LINE = re.compile(
    r"^(发件人|寄件者|寄件人|from|发送时间|发件时间|发送日期|傳送時間|日期|时间|sent|date|收件人|收件者|to|"
    r"抄送|副本|cc|主题|主旨|subject)\*?\s*(:\*?\s*|\s+)\S",
    re.I,
)
_HEADER_START = re.compile(r"^(发件人|寄件者|寄件人|from|发送时间|发件时间|发送日期|傳送時間|sent|date)\b", re.I)
_SIGNATURE = re.compile(
    r"^(发自我的|发自网易邮箱|发自\s*\S*(手机|邮箱|iphone|ipad|android)|从我的.{0,20}发送|從我的.{0,20}傳送|"
    r"sent (from|via|with) .{0,40}$|get outlook for\b|获取\s*outlook|来自.{0,12}(手机|客户端)|"
    r"--\s*$)",
    re.I,
)
# A line of nothing but dashes (QQ/Exmail open a signature with 18 of them; people type -- or ——).
_RULE_LINE = re.compile(r"^[-\u2010-\u2015\u2500\u2501\ufe58\ufe63]{2,}$")
# Anything in the lines under such a rule that may be part of an answer: then the rule is not a signature.
_ANSWER_HINT = re.compile(
    r"[?？吗呢]|但|不过|前提|条件|须|需|务必|意见|批|准|可以|不行|\b(yes|no|ok|return)\b|"
    r"^\s*(受\s*理|转|加\s*签|退\s*回|撤\s*回|查\s*询|催\s*办|已?\s*办\s*结)",
    re.I | re.M,
)
_FOOTER_WORDS = re.compile(r"(保密|机密|confidential|privileged)", re.I)
_FOOTER_MAIL = re.compile(r"(邮件|郵件|e-?mail|message|transmission)", re.I)


def _match_key(line: str) -> str:
    """A copy of a line for matching only: NFKC, NBSP as space, no leading quote marks or emphasis."""
    key = unicodedata.normalize("NFKC", line).replace("\xa0", " ")
    return re.sub(r"^[\s>*|]+", "", key).rstrip()


def _quoted(line: str) -> bool:
    return line.lstrip(" \t\u3000\xa0").startswith(">")


def _signature_rule(lines: list[str], i: int) -> bool:
    """Line i is a rule of dashes and what follows it, up to the next cut, holds nothing like an answer."""
    after: list[str] = []
    stop = None
    for j in range(i + 1, len(lines)):
        key = _match_key(lines[j])
        stop = "rule" if _RULE_LINE.match(key) else _cut_reason(lines, j, rules=False)
        if stop:
            break
        after.append(key)
    text = "\n".join(after)
    if not text.strip():
        # A rule that only leads into a quote is not a signature: the quote's own cut decides (the answer
        # may be below it). A rule at the very end of the text is.
        return stop is None
    if sum(1 for line in after if line.strip()) > 8:
        return False  # a name card is short; more is text the sender wrote
    norm, _ = _normalise(text)
    return not _tokens(norm) and not _ANSWER_HINT.search(norm)


def _cut_reason(lines: list[str], i: int, rules: bool = True) -> str | None:
    """Why line i starts the quoted or trailing part of a reply, or None."""
    line = lines[i]
    key = _match_key(line)
    if _quoted(line):
        return "quote"
    if FINGERPRINT_RE.search(line) or FINGERPRINT_RE.search(key):
        return "fingerprint"
    if not key:
        return None
    if _SEPARATOR.search(key):
        return "separator"
    joined = key if i + 1 >= len(lines) else key + _match_key(lines[i + 1])
    for rule in _ATTRIBUTION:
        if rule.search(key) or (len(key) < 120 and rule.search(joined)):
            return "attribution"
    if len(key) < 60 and re.search(r"(写道|寫道|wrote)\s*:?\s*$", key, re.I):
        return "attribution"  # the second half of a wrapped attribution
    if re.match(r"on\b.{0,200}\d", key, re.I) and len(key) < 200:
        # "On <date> <name>" with "wrote:" a few lines further (Gmail wraps the address)
        following = " ".join(_match_key(ln) for ln in lines[i + 1:i + 5])
        if re.search(r"^[^.!?]{0,200}\bwrote\s*:\s*$", following, re.I) or re.match(
                r"^\s*(<\s*)?(mailto:)?[^\s]*\s*.{0,80}>?\s*wrote:", following, re.I):
            return "attribution"
    if _HEADER_LINE.search(key) and _HEADER_START.search(key):
        hits = sum(1 for j in range(i, min(i + 5, len(lines))) if _HEADER_LINE.search(_match_key(lines[j])))
        if hits >= 2:
            return "headers"
    if _SIGNATURE.search(key):
        return "signature"
    if rules and _RULE_LINE.match(key) and _signature_rule(lines, i):
        return "signature"
    if len(key) >= 40 and _FOOTER_WORDS.search(key) and _FOOTER_MAIL.search(key):
        return "footer"
    return None


# Foxmail's default signature: the date and the sender's own address on lines of their own under the text.
_SIGNATURE_LINE = re.compile(r"^\s*(?:\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?"
                             r"|<?(?:mailto:)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?)\s*$")


def _drop_signature_block(top: str) -> str:
    """`top` without a trailing run of bare date and address lines holding an address, when text stands above."""
    lines = top.split("\n")
    end = len(lines)
    while end > 0 and (not lines[end - 1].strip() or _SIGNATURE_LINE.match(lines[end - 1])):
        end -= 1
    if not any("@" in line for line in lines[end:]) or not any(line.strip() for line in lines[:end]):
        return top         # a date alone is how a leader signs a 批示 (李明 2026年3月2日): it stays
    return "\n".join(lines[:end]).strip()


def cut_text(text: str) -> str:
    """The new text of a plain-text reply: above the quote, or, when nothing is above, the answers between quotes."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first_cut, reason = len(lines), None
    for i in range(len(lines)):
        reason = _cut_reason(lines, i)
        if reason:
            first_cut = i
            break
    while first_cut > 0 and re.fullmatch(r"[\s\-_=*]*", lines[first_cut - 1]):
        first_cut -= 1  # blank or rule lines that lead into the quote
    top = _drop_signature_block("\n".join(lines[:first_cut]).strip())
    if top or reason not in ("quote", "attribution"):
        return top
    # Bottom-posting or answers between quoted lines: keep the unquoted lines that follow a
    # `>` quote, up to anything that is not ours to read (a client header, our notification, a signature).
    kept: list[str] = []
    for i in range(first_cut, len(lines)):
        why = _cut_reason(lines, i)
        if why in ("quote", "attribution"):
            continue
        if why:
            break
        kept.append(lines[i])
    return "\n".join(kept).strip()


# Markers of clients that quote in a <blockquote>: an answer may stand below the quote there.
_BELOW_OK = {6, 7, 8, 10}


def _html_cut(html: str) -> tuple[str, bool] | None:
    """(the HTML before the first quote marker, whether an answer may follow the quote), or None."""
    hits = [(m.start(), n) for n, rule in enumerate(_HTML_MARKERS) for m in [rule.search(html)] if m]
    if not hits:
        return None
    start, which = min(hits)
    return html[:start], which in _BELOW_OK


def new_text(mail: ParsedMail) -> str:
    """The text the sender wrote in this mail, without the quote, our notification, signatures or footers; read
    once a mail (a new mail is read for a reply's words and for the form of a 交办)."""
    derived = getattr(mail, "derived", None)
    if derived is None:
        return _new_text(mail)
    if "new_text" not in derived:
        derived["new_text"] = _new_text(mail)
    return derived["new_text"]


def _new_text(mail: ParsedMail) -> str:
    if mail.html:
        found = _html_cut(mail.html)
        if found is not None:
            cut = cut_text(html_to_text(found[0]))
            if cut:
                return cut
            # Nothing above the quote: the answer may be below or between the quoted parts. Where the
            # client quotes in a <blockquote>, the HTML shows the quote as such; a text part may not
            # (Coremail puts the original in it unquoted, so that only our fingerprint ends it).
            if found[1]:
                below = cut_text(html_to_text(mail.html))
                if below:
                    return below
            if mail.text.strip() and mail.text.strip() != html_to_text(mail.html).strip():
                return cut_text(mail.text)
            return ""
    return cut_text(mail.text or html_to_text(mail.html))


# ---------------------------------------------------------------- the decision

class Verb(enum.Enum):
    ACCEPT = "受理"
    RETURN = "退回"
    APPROVE = "同意"
    APPROVE_WITH_CONDITIONS = "原则同意"
    REJECT = "不同意"
    TRANSFER = "转"
    ADD_SIGNER = "加签"
    WITHDRAW = "撤回"
    QUERY = "查询"
    REMIND = "催办"
    DONE = "办结"
    CONFIRM = "是"          # the answer to a question that offered a reading
    UNKNOWN = "未识别"


@dataclass(frozen=True)
class Lexicon:
    """Informal words (好的, ok, 行 …) that count as approval when they open a reply; none by default."""
    extra_approve: tuple[str, ...] = ()


@dataclass(frozen=True)
class Offer:
    """The likely reading of a doubtful reply (请王总定 → 转：王总); offered in a question, applied only on 是."""
    verb: Verb
    target: str = ""


@dataclass(frozen=True)
class Reply:
    verb: Verb
    opinion: str
    target: str
    fields: dict[str, str] = field(default_factory=dict)
    new_text: str = ""
    matched: str = ""
    shape: str = ""                 # the clause of the grammar that decided (condition, handover, …), or ""
    offer: Offer | None = None      # what a question back may offer, when the reply is not applied as it stands


A, C, R, T, N = Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT, Verb.RETURN, None
# Strong tokens count anywhere in the first lines; matched longest first. N marks phrases that
# contain a verdict word but decide nothing (不同意见 = "differing views").
_STRONG: dict[str, Verb | None] = {
    "同意": A, "批准": A, "准予": A, "照准": A, "照办": A, "同意办理": A, "按此办理": A, "按拟办意见办理": A,
    "无异议": A, "没有异议": A, "没异议": A, "无意见": A, "没有意见": A, "没意见": A, "不反对": A,
    "无不同意见": A, "没有不同意见": A, "没不同意见": A, "不同意见": N, "同意见": N,
    "原则同意": C, "原则上同意": C, "基本同意": C, "有条件同意": C, "修改后同意": C, "原则批准": C,
    "不同意": R, "不予同意": R, "不能同意": R, "无法同意": R, "难以同意": R, "暂不同意": R, "未同意": R,
    "不批准": R, "不予批准": R, "暂不批准": R, "不能批准": R, "未批准": R, "驳回": R, "否决": R, "不予通过": R,
    "不通过": R, "不予认可": R, "拒绝": R, "不赞成": R, "反对": R, "不可以": R, "不行": R, "不准": R, "不予准许": R,
    "核准": A, "不予核准": R, "駁回": R, "不予支持": R, "不予考虑": R,
    "退回": T, "退回修改": T, "修改后再报": T, "修改后重报": T, "修改后重新上报": T, "修改后重新提交": T,
    "approve": A, "approved": A, "lgtm": A, "agree": A, "agreed": A, "i agree": A,
    "no objection": A, "no objections": A, "no problem": A,
    "approved with conditions": C, "approved with comments": C, "approve with conditions": C,
    "reject": R, "rejected": R, "decline": R, "declined": R, "deny": R, "denied": R, "disapprove": R,
    "disapproved": R, "disagree": R, "not approved": R, "not approve": R, "do not approve": R,
    "don't approve": R, "cannot approve": R, "can't approve": R, "won't approve": R, "not agree": R,
}
# Weak words count only when they open the reply and stand alone (followed by punctuation or the end).
_WEAK_BUILTIN: dict[str, Verb] = {"可以": A, "yes": A, "no": R, "return": T}
_APPROVAL_WORDS = ("同意", "批准", "准予", "照准", "通过", "认可", "approve", "agree")
_NEGATORS = ("不", "未", "没", "无法", "不能", "不予", "难以", "暂不", "拒绝", "并非", "绝非", "勿")
_EN_NEGATORS = re.compile(r"\b(not|never|cannot|can't|don't|won't|no|n't)\b")
_QUESTION_BEFORE = re.compile(r"(是否|能否|可否|要不要|是不是|可不可以|同不同意|批不批准)$")
_CONDITION = re.compile(r"^[^。.!！\n]{0,3}?(但|不过|前提|条件|须|需|务必|but\b|provided|on condition)", re.I)
_KANA = re.compile(r"[\u3040-\u30ff]")
_CLAUSE_STOP = "，,。.；;！!？?\n：:、"
_WEAK_END = "，,。.；;！!：:、~～…-—\n"  # a weak word must stand alone: "no." but not "no impact"
_PUNCT = " \t\u3000\xa0，,。.；;！!：:、~～…-—"
_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,6}\s*[〔\[［(（]\s*\d{4}\s*[〕\]］)）]\s*\d+\s*号")
_FIELD = re.compile(r"^\s*(拟办意见|流程|执行|抄送|紧急|时限)\s*[:：]\s*(.*?)\s*$")
_PERSON_TAIL = re.compile(r"(审批|审核|审定|处理|办理|阅处|阅示|批示|签批|签字|酌处|决定)$")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC, lower case, no blanks inside CJK runs; with the original index of every kept character."""
    out: list[str] = []
    where: list[int] = []
    pending_space: list[int] = []
    for i, ch in enumerate(text):
        norm = unicodedata.normalize("NFKC", ch).lower()
        if norm in (" ", "\t", "\xa0") or ch == "\u3000":
            pending_space.append(i)
            continue
        if pending_space:
            if out and not (_is_cjk(out[-1]) and norm and _is_cjk(norm[0])):
                out.append(" ")
                where.append(pending_space[0])
            pending_space = []
        for piece in norm:
            out.append(piece)
            where.append(i)
    return "".join(out), where


def _head(text: str) -> str:
    """The first three non-empty lines, where a verdict is written."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return "\n".join(lines[:3])[:300]


def _word_ok(norm: str, start: int, end: int) -> bool:
    """Latin tokens must stand as whole words."""
    if norm[start].isascii() and norm[start].isalpha() and start > 0 and norm[start - 1].isalnum():
        return False
    if norm[end - 1].isascii() and norm[end - 1].isalpha() and end < len(norm) and norm[end].isascii() \
            and norm[end].isalnum():
        return False
    return True


_TOKEN_RE = re.compile("|".join(re.escape(k) for k in sorted(_STRONG, key=len, reverse=True)))


def _tokens(norm: str) -> list[tuple[int, int, Verb | None]]:
    """Strong tokens, longest first at every position, none overlapping."""
    found, pos = [], 0
    while True:
        m = _TOKEN_RE.search(norm, pos)
        if not m:
            return found
        if _word_ok(norm, m.start(), m.end()):
            found.append((m.start(), m.end(), _STRONG[m.group(0)]))
            pos = m.end()
        else:
            pos = m.start() + 1


def _clause_before(norm: str, start: int, width: int) -> str:
    lo = start
    while lo > 0 and start - lo < width and norm[lo - 1] not in _CLAUSE_STOP:
        lo -= 1
    return norm[lo:start]


_DOUBT = ("不", "未", "没", "无", "难", "恕", "碍", "毋", "勿", "否", "莫", "别")
_DOUBT_AFTER = ("不了", "不得", "不成", "不来", "不下")
_EN_DOUBT = re.compile(r"\b(not|never|cannot|can't|don't|won't|unable|n't|hardly|no)\b")


def _doubted(norm: str, start: int, end: int) -> bool:
    """A negation further back in the clause (我不认为应该同意, 恕难同意, I do not think we should approve) or
    right after the verb (同意不了): too far for a sure 不同意, too close to take as approval — ask."""
    if norm[start:end].isascii():
        sentence = re.split(r"[.!?。！？\n]", norm[max(0, start - 80):start])[-1]
        sentence = re.sub(r"\bno (problem|objections?|issues?|concerns?)\b", "", sentence)
        return bool(_EN_DOUBT.search(sentence))
    return any(neg in _clause_before(norm, start, 30) for neg in _DOUBT) or norm[end:end + 2] in _DOUBT_AFTER


def _negated(norm: str, start: int, end: int) -> bool:
    word = norm[start:end]
    if word.isascii():
        before = _clause_before(norm, start, 30).split()[-3:]
        return bool(_EN_NEGATORS.search(" ".join(before)))
    window = _clause_before(norm, start, 4)
    return any(neg in window for neg in _NEGATORS)


def _questioned(norm: str, start: int, end: int) -> bool:
    after = norm[end:end + 8]
    stop = min([after.find(c) for c in "，,。.；;！!\n" if c in after] or [len(after)])
    return ("吗" in after[:stop + 1] or "?" in after[:stop + 1] or "呢" in after[:2]
            or bool(_QUESTION_BEFORE.search(_clause_before(norm, start, 6))))


def _verdict(norm: str, extra: tuple[str, ...]) -> tuple[Verb, int, int]:
    """The verdict of normalised head text and its span, or UNKNOWN."""
    opening = norm.lstrip(_PUNCT + "\n")
    lead = len(norm) - len(opening)
    weak = dict(_WEAK_BUILTIN)
    weak.update({unicodedata.normalize("NFKC", w).lower(): A for w in extra if w.strip()})
    tokens = _tokens(norm)
    verdicts: list[tuple[Verb, int, int]] = []
    for start, end, verb in tokens:
        if verb is None:
            continue
        if _KANA.match(norm[end:end + 1]) or _questioned(norm, start, end):
            return Verb.UNKNOWN, start, end
        word = norm[start:end]
        if verb is T and re.search(r"被|不|未|无需|不必|不用|勿|别|是否", _clause_before(norm, start, 6)):
            continue  # 邮件被退回, 不必退回: nothing is being sent back
        if verb in (A, C) and any(w in word for w in _APPROVAL_WORDS) and _negated(norm, start, end):
            verb = R
        elif verb in (A, C) and any(w in word for w in _APPROVAL_WORDS) and _doubted(norm, start, end):
            return Verb.UNKNOWN, start, end
        elif verb is R and not word.isascii() and _negated(norm, start, end):
            return Verb.UNKNOWN, start, end  # double negation: 不是不同意, 并非不同意
        if verb is A and _CONDITION.search(norm[end:]):
            verb = C
        verdicts.append((verb, start, end))
    opening_weak = None
    for word in sorted(weak, key=len, reverse=True):
        end = lead + len(word)
        if opening.startswith(word) and _word_ok(norm, lead, end) and (
                end == len(norm) or norm[end] in _WEAK_END):
            opening_weak = (weak[word], lead, end)
            break
    if opening_weak and verdicts and verdicts[0][1] < opening_weak[2]:
        opening_weak = None  # the opening word belongs to a longer phrase: "no problem"
    if verdicts and opening_weak and not ({opening_weak[0], verdicts[0][0]} <= {A, C}):
        return Verb.UNKNOWN, lead, verdicts[-1][2]  # "ok, 不同意": two answers in one
    if not verdicts:
        for word in sorted(weak, key=len, reverse=True):
            end = lead + len(word)
            if opening.startswith(word) and _word_ok(norm, lead, end) and (
                    end == len(norm) or norm[end] in _WEAK_END):
                if _questioned(norm, lead, end):
                    return Verb.UNKNOWN, lead, end
                verb = weak[word]
                if verb is A and _CONDITION.search(norm[end:]):
                    verb = C
                return verb, lead, end
        return Verb.UNKNOWN, 0, 0
    kinds = {v for v, _, _ in verdicts}
    if kinds <= {A, C}:
        verb = C if C in kinds else A
        first = next(v for v in verdicts if v[0] is verb)
        return verb, first[1], first[2]
    if len(kinds) == 1:
        return verdicts[0]
    return Verb.UNKNOWN, verdicts[0][1], verdicts[-1][2]


# ---------------------------------------------------------------- the clause grammar
#
# A verdict word decides only when its clause is an unconditional decision on this request. The head (the
# first lines) is cut into clauses; each clause gets a kind from the tables below; `_grammar` then reads the
# sequence: a condition before or in the decision clause, a cancelling or deferring continuation or a handover
# after it, a dissent as its object, or a question anywhere turns an approval into a question to the sender.
# Plain 批示 words (如拟, 可, 准) and soft rejections (不宜, 不妥) stand as decisions only as whole clauses.

_CLAUSE_BREAK = ",、:。.;!?\n"
_SENTENCE_BREAK = "。.;!?\n"
_X = r"([\u4e00-\u9fffa-z0-9@._\-]{1,12}?)"
_XP = r"((?:(?!后|完成|结束|到位)[\u4e00-\u9fffa-z0-9@._\-]){1,8}?)"    # a person: 等王总定, never 等审计完成后
_DECIDE = r"(?:定夺|决定|审定|审批|批示|阅示|签批|拍板|裁定|定)"
_HANDLE = r"(?:处理|办理|阅处|酌处|核批|阅)"
_AGREE_WORD = r"(?:同意|批准|赞成|赞同|认同|支持|附议|核准|准予)"

# (kind, pattern on one normalised clause); the first kind that matches is the clause's kind.
CLAUSE_KINDS: tuple[tuple[str, re.Pattern], ...] = (
    ("question", re.compile(r"\?|吗|是否|能否|可否|与否|要不要|是不是|行不行|可不可以|同不同意|批不批|好不好|"
                            r"合适不|妥不妥|呢$")),
    ("dissent", re.compile(_AGREE_WORD + r".{0,14}?(?<!无)(?<!没有)(?<!没)"
                           r"(?:不同意见|反对意见|否定意见|保留意见|不同看法|异议|反对)")),
    ("handover", re.compile(
        r"^(?:同意|可以|原则同意|原则上同意)?(?:具体|最终|最后|还是|可|建议|但|不过)?(?:请|报|呈|由|交|送|提请|报请|呈请|转)"
        + _X + r"(?:同志)?" + _DECIDE + r"(?:吧|为宜|即可|为准)?$|"
        r"^(?:同意|可以|原则同意)?(?:具体|最终|最后|还是|但|不过)?(?:等|待)" + _XP + r"(?:同志)?" + _DECIDE + r"(?:吧)?$|"
        r"^(?:同意|可以)?呈" + _X + r"(?:同志)?(?:阅|阅示|审阅)?$|"
        r"^" + _X + r"(?:定夺|决定|拍板|定)(?:吧|为宜)$|"
        r"^(?:但|不过|还)?(?:要|需|须|得|需要|还要|还需|待|等)" + _XP + r"(?:同志)?(?:同意|点头|首肯|拍板|批准|定夺|决定|审定)$|"
        r"(?:先|须|需|要)?(?:报|请示|呈报|报请)(?:集团|上级|总部|总公司|董事会|党委会|总经理办公会)(?:审批|批准|同意|决定|定|研究)")),
    ("defer", re.compile(r"缓议|暂缓|再议|缓办|另行研究|另行商定|研究后再|再研究|再商量|再考虑|再说|放一放|押后|推迟|延后|"
                         r"(?:年后|节后|以后|过后|回头|下周|下月|明年|下次)再")),
    ("resubmit", re.compile(r"重新(?:上)?报|重报|再报|另报|重新(?:提交|申请|打报告|请示|呈报)|再打(?:个)?报告|"
                            r"另行(?:请示|上报|报批|报送)|先请示|先不|暂不(?:执行|办理|实施|办)")),
    ("condition", re.compile(r"^(?:若|如果|假如|假若|倘若|倘|要是|只要|一旦|万一|如能|如确|如可|如需|如果说|待|等到|等|视)"
                             r"|^如(?!拟|无不妥|无异议|无意见|无问题)|前提下|条件下|情况下|的话|为前提|为条件|方可|才能|才可")),
    ("soft_reject", re.compile(r"^(?:此事|该事|此项|该项|这事|这件事|此|本事项|该请示|此请示|本请示|我意|我看)?(?:暂)?"
                               r"(?:不宜|不妥|不可|不予考虑|不予支持|不办|不能批|不批|驳回|駁回)"
                               r"(?:办理|开展|实施|采纳|考虑|支持|同意|批准|安排|上马)?(?:吧)?$")),
    ("plain_approve", re.compile(r"^(?:如拟|如拟办理|如拟执行|照拟|可|准|可行|核准|照此办理|同意拟办意见|"
                                 r"按拟办意见办理?|按拟办意见执行|按拟办意见处理)$")),
    ("transfer", re.compile(r"^请" + _X + _HANDLE + r"(?:吧)?$")),
    ("filler", re.compile(r"^(?:已?阅|已阅悉|收悉|悉|知悉|收到|经研究|经认真研究|研究|好|嗯|我意|我看)?$")),
)
# Whose opinion 同意X意见 follows: X's own words on this form must be an approval for it to be one.
_AGREE_OPINION = re.compile(r"(?:同意|赞成|赞同|认同|按|按照|照)" + _X + r"(?:同志)?(?:的)?意见(?:办理|办|执行|处理)?$")
_PROPOSAL_NAMES = ("拟办", "办公室", "拟办人")
# how the 收发记录 names each shape that kept a reply from being applied
SHAPE_LABELS = {
    "condition": "附有条件", "handover": "请他人决定", "dissent": "赞同的是不同意见", "defer": "暂缓决定",
    "resubmit": "要求重新报送", "question": "含有疑问", "agree_opinion_unknown": "所同意的意见不明",
    "agree_dissent": "所同意的是不同意见", "doubt": "有否定语气", "mixed": "意见不一致", "double_negation": "双重否定",
}
_CONFIRM = re.compile(r"^(?:是|是的|对|对的|确认|确定|是,确认|对,确认)$")
PLACEHOLDERS = ("（请写理由）", "（请写意见）", "（请写指导意见）")


@dataclass(frozen=True)
class _Clause:
    start: int
    end: int
    text: str
    kind: str
    sentence: int


def _clauses(norm: str) -> list[_Clause]:
    out: list[_Clause] = []
    start, sentence = 0, 0
    for i, ch in enumerate(norm + "\n"):
        if ch in _CLAUSE_BREAK:
            text = norm[start:i].strip()
            kind = next((k for k, rule in CLAUSE_KINDS if rule.search(text)), "") if text else "filler"
            out.append(_Clause(start, i, text, kind, sentence))
            if ch in _SENTENCE_BREAK:
                sentence += 1
            start = i + 1
    return out


def _target(clause: _Clause) -> str:
    m = next((m for k, rule in CLAUSE_KINDS if k == clause.kind for m in [rule.search(clause.text)] if m), None)
    if m is None:
        return ""
    x = next((g for g in m.groups() if g), "")
    x = re.split(r"(?:后|再)?(?:报|呈|请|交|由)", x)[-1]     # 财务科审核后报李副总: the one who decides last
    for _ in range(2):
        x = _PERSON_TAIL.sub("", x)
    return re.sub(r"同志$", "", x)


def _opinion_of(name: str, opinions: dict[str, str] | None) -> str | None:
    """The decision X (named in 同意X意见) wrote on this form: 同意/不同意/…, '' when X wrote none, None unknown."""
    name = re.sub(r"^(?:按照|按|照)", "", name)
    if any(name.startswith(p) for p in _PROPOSAL_NAMES):
        return "同意"
    if opinions is None:
        return None
    found = [d for who, d in opinions.items() if who and (who in name or name in who)]
    return found[-1] if found else ""


def _grammar(norm: str, verb: Verb, start: int, end: int,
             opinions: dict[str, str] | None) -> tuple[Verb, str, Offer | None]:
    """The verdict after reading the clauses around it: (verb, shape, offer)."""
    clauses = _clauses(norm)
    if not clauses:
        return verb, "", None
    kinds = {c.kind for c in clauses}
    meaningful = [c for c in clauses if c.kind != "filler"]
    first = meaningful[0] if meaningful else clauses[0]
    doubted = verb is Verb.UNKNOWN and end > start and any(w in norm[start:end] for w in _APPROVAL_WORDS)
    if verb in (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS) or doubted:
        if doubted:      # 在不超预算的前提下同意: already a question; say which shape made it one
            return Verb.UNKNOWN, _grammar(norm, Verb.APPROVE, start, end, opinions)[1] or "doubt", None
        at = next((n for n, c in enumerate(clauses) if c.start <= start < c.end + 1), 0)
        decision = clauses[at]
        before = [c for c in clauses[:at + 1] if c.sentence == decision.sentence]
        after = clauses[at + 1:]
        if "question" in kinds:
            return Verb.UNKNOWN, "question", None
        if decision.kind == "dissent" or any(c.kind == "dissent" for c in clauses):
            return Verb.UNKNOWN, "dissent", Offer(Verb.REJECT)
        if any(c.kind == "condition" for c in before) or any(
                re.search(r"^(?:若|如果|假如|倘若|要是|只要)|的话|与否", c.text) for c in clauses) or any(
                c.kind == "condition" and re.match(r"(?:待|等|视)", c.text) for c in after):
            return Verb.UNKNOWN, "condition", None
        for c in [decision, *after]:
            if c.kind == "handover":
                target = _target(c)
                return Verb.UNKNOWN, "handover", Offer(Verb.TRANSFER, target) if target else None
            if c.kind == "resubmit":
                return Verb.UNKNOWN, c.kind, Offer(Verb.RETURN)
            if c.kind == "defer":
                return Verb.UNKNOWN, c.kind, None
        m = _AGREE_OPINION.search(decision.text)
        if m:
            said = _opinion_of(m.group(1), opinions)
            if said in ("同意", "原则同意", "拟办"):
                return verb, "agree_opinion", None
            if said == "不同意":
                return Verb.UNKNOWN, "agree_dissent", Offer(Verb.REJECT)
            return Verb.UNKNOWN, "agree_opinion_unknown", None
        return verb, "", None
    if verb is Verb.REJECT:
        if any(c.kind == "dissent" for c in clauses) and re.search(r"不" + _AGREE_WORD, norm):
            return Verb.UNKNOWN, "double_negation", None   # 不赞成审计科的不同意见: against a dissent
        return verb, "", None
    if verb is not Verb.UNKNOWN or end > start:
        return verb, "", None
    # no verdict word at all: the whole-clause 批示 words, a transfer, a deferral, a condition
    if first.kind in ("plain_approve", "soft_reject"):
        others = [c for c in meaningful[1:] if c.kind in ("question", "condition", "handover", "defer", "resubmit",
                                                           "dissent", "soft_reject", "plain_approve")]
        if not others and "question" not in kinds:
            return (Verb.APPROVE if first.kind == "plain_approve" else Verb.REJECT), first.kind, None
        return Verb.UNKNOWN, "mixed", None
    if first.kind in ("handover", "transfer"):
        target = _target(first)
        return Verb.UNKNOWN, "handover", Offer(Verb.TRANSFER, target) if target else None
    if first.kind == "dissent":
        return Verb.UNKNOWN, "dissent", Offer(Verb.REJECT)
    m = _AGREE_OPINION.search(first.text)
    if m and first.text.startswith(("按", "照")):         # 按财务科意见办理: as good as X's own opinion
        said = _opinion_of(m.group(1), opinions)
        if said in ("同意", "原则同意", "拟办"):
            return Verb.APPROVE, "agree_opinion", None
        return Verb.UNKNOWN, "agree_opinion_unknown" if said != "不同意" else "agree_dissent", (
            Offer(Verb.REJECT) if said == "不同意" else None)
    for kind in ("question", "condition", "defer", "resubmit"):
        if first.kind == kind:
            return Verb.UNKNOWN, kind, Offer(Verb.RETURN) if kind == "resubmit" else None
    for kind in ("question", "condition", "defer", "resubmit"):
        if kind != "question" and kind in kinds:
            return Verb.UNKNOWN, kind, Offer(Verb.RETURN) if kind == "resubmit" else None
    return verb, "", None


def _strip_lead(text: str, word_len: int) -> str:
    """Text without its first `word_len` original characters, the particles (批准了) and punctuation after them."""
    rest = text[word_len:]
    return re.sub(r"^(?:了|啦|的|吧)+(?=$|[\s，,。.！!；;])", "", rest).lstrip(_PUNCT).strip()


def _person(rest: str) -> tuple[str, str]:
    """(person named at the start of `rest`, what follows) for 转/加签 lines."""
    rest = rest.lstrip(_PUNCT)
    first, _, after = rest.partition("\n")
    m = re.match(r"([^\s，,。；;！!、]+)(.*)$", first)
    if not m:
        return "", after.strip()
    person = m.group(1)
    for _ in range(2):
        person = _PERSON_TAIL.sub("", person)
    person = re.sub(r"^(给|至|交|由)", "", person)
    tail = (m.group(2).lstrip(_PUNCT) + ("\n" + after if after else "")).strip()
    return person, tail


_COMMANDS = [  # (pattern on the original first line, verb); order matters
    (re.compile(r"^\s*受\s*理"), Verb.ACCEPT),
    (re.compile(r"^\s*(?:请\s*)?(?:转\s*交|转\s*给|转\s*[:：]|转[ \t]+(?=\S))\s*"), Verb.TRANSFER),
    (re.compile(r"^\s*加\s*签\s*[:：]?\s*"), Verb.ADD_SIGNER),
    (re.compile(r"^\s*退\s*回(?:\s*修\s*改)?\s*[:：]?"), Verb.RETURN),
    (re.compile(r"^\s*撤\s*回"), Verb.WITHDRAW),
    (re.compile(r"^\s*查\s*询"), Verb.QUERY),
    (re.compile(r"^\s*催\s*办"), Verb.REMIND),
    (re.compile(r"^\s*(已\s*)?办\s*结\s*[:：]?"), Verb.DONE),
]


def _command(text: str) -> Reply | None:
    """A reply that opens with one of the command words, or None."""
    for rule, verb in _COMMANDS:
        m = rule.match(text)
        if not m:
            continue
        rest = text[m.end():]
        if verb in (Verb.TRANSFER, Verb.ADD_SIGNER):
            target, opinion = _person(rest)
            if not target:
                return None
            return Reply(verb, opinion, target, {}, text, text[: m.end()].strip() + target)
        if verb is Verb.ACCEPT:
            fields: dict[str, str] = {}
            other: list[str] = []
            first, _, after = rest.partition("\n")
            if first.strip(_PUNCT):
                other.append(first.strip(_PUNCT))
            for line in after.split("\n"):
                fm = _FIELD.match(line)
                if fm and fm.group(1) not in fields:
                    fields[fm.group(1)] = fm.group(2)
                elif line.strip():
                    other.append(line.strip())
            return Reply(verb, "\n".join(other), "", fields, text, m.group(0).strip())
        target = ""
        if verb is Verb.QUERY:
            found = _NUMBER.search(rest.split("\n", 1)[0])
            target = re.sub(r"\s+", "", found.group(0)) if found else ""
            return Reply(verb, "", target, {}, text, (m.group(0) + " " + target).strip())
        return Reply(verb, rest.lstrip(_PUNCT).strip(), target, {}, text, m.group(0).strip())
    return None


def _subject_words(subject: str, strict: bool = True) -> str:
    """What the sender typed into a reply subject: no prefixes, no 【number】 tag, none of our subject."""
    text = strip_subject_prefixes(subject)
    text = re.sub(r"【[^】]*】.*$", "", text)          # our tag and our original subject after it
    text = re.sub(r"(?:^|[\s\-—_|])+(?:re|回复|答复|回覆|fw|fwd|转发)\s*[:：]?\s*$", "", text, flags=re.I)
    text = strip_subject_prefixes(text.strip(" -—_|:："))
    if strict and re.search(r"请示|关于|审批|报告|〔|\[", text):
        return ""  # a request's title, retyped or ours: never read a verdict out of it
    return text


def classify(text: str, subject: str = "", lexicon: Lexicon | None = None,
             opinions: dict[str, str] | None = None) -> Reply:
    """The decision stated by new text already cut from its quote (or, when it is empty, by the subject).

    `opinions` (name → decision already on this form) lets 同意X意见 count as approval when X approved;
    None means unknown, and such a reply is asked about."""
    lexicon = lexicon or Lexicon()
    text = (text or "").strip()
    for placeholder in PLACEHOLDERS:       # a one-tap answer sent without filling in its blank
        text = text.replace(placeholder, "").strip()
    source = text
    if not source:
        source = _subject_words(subject)
    if not source:
        return Reply(Verb.UNKNOWN, "", "", {}, text, "")
    command = _command(source)
    if command is not None:
        return Reply(command.verb, command.opinion, command.target, command.fields, text, command.matched)
    head = _head(source)
    norm, where = _normalise(head)
    if _CONFIRM.match(norm.strip(_PUNCT + "\n")) and "\n" not in source.strip():
        return Reply(Verb.CONFIRM, "", "", {}, text, source.strip())
    verb, start, end = _verdict(norm, lexicon.extra_approve)
    verb, shape, offer = _grammar(norm, verb, start, end, opinions)
    if verb is not Verb.UNKNOWN and start == end:
        start, end = _whole_clause(norm)
    if verb is Verb.UNKNOWN:
        subject_query = _subject_words(subject, strict=False) if text else ""
        if subject_query and re.match(r"\s*查\s*询", subject_query):
            found = _command(subject_query)
            if found is not None:
                return Reply(found.verb, "", found.target, {}, text, found.matched)
        return Reply(Verb.UNKNOWN, "", "", {}, text, norm[start:end], shape, offer)
    o_start = where[start] if start < len(where) else 0
    o_end = where[end - 1] + 1 if end - 1 < len(where) else len(head)
    matched = head[o_start:o_end]
    if not head[:o_start].strip(_PUNCT + "\n"):
        opinion = _strip_lead(source[o_start:], o_end - o_start)
    else:
        opinion = source
    return Reply(verb, opinion, "", {}, text, matched, shape, offer)


def _whole_clause(norm: str) -> tuple[int, int]:
    """The span of the first clause that is not filler (the 批示 word standing as its own clause)."""
    for c in _clauses(norm):
        if c.kind != "filler":
            return c.start + (len(norm[c.start:c.end]) - len(norm[c.start:c.end].lstrip())), c.end
    return 0, 0


def read_reply(mail: ParsedMail, lexicon: Lexicon | None = None, opinions: dict[str, str] | None = None) -> Reply:
    """The decision a person's reply states, read from its new text only."""
    return classify(new_text(mail), mail.subject, lexicon, opinions)
