"""The 三要素 of a 交办 (SPEC §6.2 steps 2–3): proposed from a leader's own text, confirmed by a 派发 reply.

Pure: the directory, the working calendar and the times come in as arguments; no database, no mail.
What is proposed is only a proposal: nothing reaches a unit until office staff confirm it, so whatever is unclear
is left empty and said in the findings rather than guessed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from daemon import deadline as dl
from daemon import limits
from daemon.directory import RouteError
from daemon.jiaoban.reader import fields_of
from daemon.workcal import parse_duration

URGENT_WORDS = ("尽快", "抓紧", "立即", "马上")         # §6.2: propose 紧急：加急, but no deadline
URGENCIES = ("特急", "加急")
NOT_URGENT = ("", "一般", "平件", "平急", "无", "否", "不急", "-")
LEAD_WORDS = ("牵头", "负责", "承办", "主办")
CO_WORDS = ("配合", "协办", "参与")
SECRET_WORDS = ("绝密", "机密", "秘密")
OFFICE = "办公室"
CONTENT_MAX = 60

_HEAD = re.compile(r"^\s*交办\s*(?:[:：]\s*|$)")
_SUBJECT_HEAD = re.compile(r"^\s*交办(?:事项)?\s*[:：、\s-]*")
_URGENCY_MARK = re.compile(r"[【\[（(〔]\s*(特急|加急|急件|紧急)\s*[】\]）)〕]")
_CLAUSE = re.compile(r"[，,。；;！!？?\n]")
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")
_JOIN = r"\s*[、和及与]\s*"


@dataclass
class Elements:
    """A 交办's elements as proposed or confirmed; units are addresses. `findings` are what office staff should
    look at (Chinese), `problems` what stops a 派发."""
    content: str = ""
    deadline_text: str = ""
    deadline_at: datetime | None = None
    deadline_open: str = ""         # why 时限 is 待明确 ("" when read, or when simply not written)
    requirements: str = ""
    lead: str = ""
    co_units: list[str] = field(default_factory=list)
    units_suggested: bool = False   # from a [[routes]] rule, not from the text
    urgency: str = ""
    feedback_every: str = ""
    source: str = ""
    leader: str = ""                # the 交办领导： line as written (代登记)
    findings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unknown_units: list[str] = field(default_factory=list)
    deadline_flags: tuple[str, ...] = ()
    default_deadline: bool = False  # from jiaoban.default_deadline: shown as （默认时限）

    def as_dict(self) -> dict:
        """JSON for Task.proposed."""
        out = asdict(self)
        out["deadline_at"] = self.deadline_at.isoformat() if self.deadline_at else None
        out["deadline_flags"] = list(self.deadline_flags)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Elements:
        data = dict(data or {})
        at = data.get("deadline_at")
        data["deadline_at"] = datetime.fromisoformat(at) if at else None
        data["deadline_flags"] = tuple(data.get("deadline_flags") or ())
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


# -- the leader's text ---------------------------------------------------------------------------

def subject_content(subject: str) -> str:
    """交办：年度安全生产检查通报 → 年度安全生产检查通报 (prefixes and urgency marks gone)."""
    from daemon.mime import strip_subject_prefixes
    s = _URGENCY_MARK.sub("", strip_subject_prefixes(subject or ""))
    if not _SUBJECT_HEAD.match(s) or not s.strip().startswith("交办"):
        return ""
    return _SUBJECT_HEAD.sub("", s, count=1).strip(" ：:，,。")


def is_head_line(line: str) -> bool:
    """The first line of a 交办 written in the text: 交办 alone, or 交办：…"""
    return bool(_HEAD.match((line or "").replace("\u200b", "").replace("\ufeff", "")))


def split_text(text: str) -> tuple[dict[str, list[str]], str]:
    """The element lines of a leader's text and the rest, verbatim, with a leading 交办 head cut off
    (交办：起草通报 leaves 起草通报)."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and is_head_line(lines[0]):
        lines[0] = _HEAD.sub("", lines[0], count=1)
    found, rest = fields_of(lines)
    return found, "\n".join(rest).strip()


def first_sentence(text: str) -> str:
    m = _SENTENCE.search(text or "")
    s = m.group(0).strip(" 。！？!?") if m else ""
    return s[:CONTENT_MAX]


def urgency_of(subject: str, line: str = "") -> str:
    """特急/加急 from a 紧急： line, else from the subject; "" when neither says so."""
    for text in (line, subject or ""):
        for u in URGENCIES:
            if u in text:
                return u
    return ""


# -- deadlines ------------------------------------------------------------------------------------

def _nothing_there(text: str, reference: datetime, cal) -> bool:
    """The clause holds no deadline expression at all (as opposed to one outside §6.5). A long tail of
    punctuation makes deadline.read answer 未找到 for such a clause, never “…”不是可识别的时限."""
    got = dl.read(text + "\n" + "。" * 21, reference, cal)
    return not got.ok and got.reason.startswith("未找到")


def deadline_in_text(text: str, reference: datetime, cal) -> tuple[dl.Deadline | None, str, list[str]]:
    """The single deadline of a leader's free text, read clause by clause: (deadline or None, why 待明确 or "",
    the urgent words met). A clause with 尽快/抓紧/立即/马上 gives no date but asks for urgency; any other
    expression outside §6.5 (近期, 节后, 下下周, 上周五 …), or two different deadlines, leaves 时限 待明确."""
    found: list[dl.Deadline] = []
    urgent: list[str] = []
    open_why = ""
    for clause in _CLAUSE.split(text or ""):
        clause = clause.strip()
        if not clause:
            continue
        words = [w for w in URGENT_WORDS if w in clause]
        urgent += [w for w in words if w not in urgent]
        cleaned = clause
        for w in words:
            cleaned = cleaned.replace(w, "　")
        got = dl.read(cleaned, reference, cal)
        if got.ok:
            found.append(got)
        elif not _nothing_there(cleaned, reference, cal):
            open_why = open_why or got.reason
    if open_why:
        return None, open_why, urgent
    if not found:
        return None, "", urgent
    first = found[0]
    for other in found[1:]:
        if other.at != first.at:
            why = (f"含两个不同的时限：“{first.text}”（{dl.format_deadline(first.at, reference)}）与"
                   f"“{other.text}”（{dl.format_deadline(other.at, reference)}），请只写一个")
            return None, why, urgent
    return first, "", urgent


def deadline_findings(at: datetime, reference: datetime, cal, flags=()) -> list[str]:
    """What office staff should know about a deadline read against `reference` (§6.2 step 3)."""
    out = []
    shown = dl.format_deadline(at, reference)
    if at <= reference:
        out.append(f"时限{shown}已过")
        return out
    if "非工作日" in flags or not cal.is_workday(at.astimezone(cal.zone).date()):
        out.append(f"时限{shown}（非工作日）：按所写日期掌握，未顺延")
    if cal.working_time_between(reference, at) < cal.day_length:
        out.append(f"距时限{shown}不足一个工作日")
    if "跨年" in flags:
        out.append(f"时限{shown}已跨年（按明年理解），请确认")
    elif "跨月" in flags:
        out.append(f"时限{shown}已跨月（按下月理解），请确认")
    return out


def read_deadline(text: str, reference: datetime, cal) -> tuple[dl.Deadline | None, str]:
    """A 时限： line: (the deadline, "") or (None, why it cannot be used)."""
    text = (text or "").strip()
    if not text:
        return None, f"未写明时限，{dl.EXAMPLE}"
    got = dl.read(text, reference, cal)
    if not got.ok:
        return None, got.reason
    if got.at <= reference:
        return None, f"时限“{text}”（{dl.format_deadline(got.at, reference)}）已过，{dl.EXAMPLE}"
    return got, ""


# -- units ----------------------------------------------------------------------------------------

def unit_names(cfg) -> list[str]:
    """The names a leader may write for a unit or person (longest first, so 安全科 is not read in 安全科室)."""
    names = {p.name for p in cfg.people} | {u.name for u in cfg.units} | {OFFICE}
    return sorted((n for n in names if n), key=len, reverse=True)


_NOT_MEANT_BEFORE = re.compile(r"(?:不|非|别|勿|无需|无须|不必|不用|不再|而非|是否|能否|可否|要不要)[^，,。；;！!？?\n]{0,6}$")
_ASKED_AFTER = re.compile(r"^[^，,。；;！!\n]{0,12}?(?:[?？]|吗|还是)")


def _not_meant(text: str, start: int, end: int) -> bool:
    """A cue the leader negates or asks about (不要综合科牵头, 是否请安全科配合？, 综合科牵头还是安全科牵头): no
    proposal — office staff settle it."""
    return bool(_NOT_MEANT_BEFORE.search(text[max(0, start - 12):start]) or _ASKED_AFTER.match(text[end:end + 20]))


def units_in_text(text: str, directory, staff_address: str) -> tuple[list[str], list[str]]:
    """Lead and co-units named in free text: a name followed by 牵头/负责/承办/主办 (lead) or 配合/协办/参与 (co);
    names joined by 、和及与 share the word after them."""
    names = "|".join(re.escape(n) for n in unit_names(directory.cfg))
    if not names:
        return [], []
    pattern = re.compile(rf"((?:{names})(?:{_JOIN}(?:{names}))*)\s*(?:同志)?\s*({'|'.join(LEAD_WORDS + CO_WORDS)})")
    leads: list[str] = []
    cos: list[str] = []
    for m in pattern.finditer(text or ""):
        if _not_meant(text, m.start(), m.end()):
            continue
        target = leads if m.group(2) in LEAD_WORDS else cos
        for name in re.split(_JOIN, m.group(1)):
            addr = _address(name, directory, staff_address)
            if addr and addr not in leads and addr not in cos:
                target.append(addr)
    return leads, cos


def unit_list(cfg) -> list[str]:
    """The configured units and persons a 交办 may go to, as people write them (leaders and the office's own
    people left out; 办公室 first)."""
    leaders = {p.email for p in cfg.leaders}
    delegates = {p.delegate for p in cfg.leaders if p.delegate}
    office = {*cfg.office.staff, cfg.office.head}
    return [OFFICE] + [p.name for p in cfg.people if p.email not in leaders | office and p.id not in delegates] + \
        [u.name for u in cfg.units]


def _address(name: str, directory, staff_address: str = "") -> str:
    name = name.strip()
    if name == OFFICE:
        return staff_address or directory.cfg.office.staff[0]
    party = directory.resolve(name)
    return party.address if party is not None and directory.is_known(party.address) else ""


def read_units(text: str, directory, staff_address: str = "") -> tuple[list[str], list[str]]:
    """A 承办：/协办： line → (addresses, names that are nobody we know). 办公室 is the staff member `staff_address`."""
    found, unknown = [], []
    for name in re.split(r"[，,、;；\s]+", (text or "").strip().strip("。")):
        if not name or name in ("无", "-", "暂无"):
            continue
        addr = _address(name, directory, staff_address)
        if not addr:
            unknown.append(name)
        elif addr not in found:
            found.append(addr)
    return found, unknown


MAX_NAMED = 10      # unknown names listed one a line; the rest are counted (a 协办： line of 500 names)


def unknown_lines(names: list[str]) -> list[str]:
    """One line per name that is nobody we know, at most MAX_NAMED, then how many more."""
    shown = [f"“{limits.clip(n, 40)}”不在单位名单中" for n in names[:MAX_NAMED]]
    if len(names) > MAX_NAMED:
        shown.append(f"另有{len(names) - MAX_NAMED}个名称不在单位名单中（共{len(names)}个），请核对后重写")
    return shown


def _route_units(directory, title: str, text: str) -> tuple[str, list[str]]:
    route = directory.route_for(title, text)
    if route is None or not route.execute:
        return "", []
    try:
        execute = directory.parse_list(route.execute)
        copy = directory.parse_list("，".join(route.copy or ())) if route.copy else []
    except RouteError:
        return "", []
    if not execute:
        return "", []
    return execute[0], [a for a in execute[1:] + copy if a != execute[0]]


# -- the proposal (step 2) ----------------------------------------------------------------------

def propose(text: str, subject: str, received: datetime, directory, cal) -> Elements:
    """The 三要素 proposed from the leader's own text `text` (already cut from quotes and forwarded parts),
    read against `received`, the moment the office mailbox received it."""
    fields, rest = split_text(text)
    one = {k: "\n".join(v).strip() for k, v in fields.items()}
    e = Elements(source=one.get("来源", ""), leader=one.get("交办领导", ""))
    # 内容
    e.content = (one.get("内容") or subject_content(subject) or first_sentence(rest))[:200]
    if not e.content:
        e.findings.append("未能确定交办内容，请核定时写明“内容：……”")
    # 要求
    if "要求" in fields:
        e.requirements = "\n".join(v for v in fields["要求"] if v).strip()
    elif one.get("内容") or subject_content(subject):
        e.requirements = rest
    else:
        after = rest[len(first_sentence(rest)):].lstrip(" 。！？!?，,\n") if rest.startswith(first_sentence(rest)) else ""
        e.requirements = after or rest
    # 紧急
    e.urgency = urgency_of(subject, one.get("紧急", ""))
    # 时限
    if "时限" in fields:
        e.deadline_text = one["时限"]
        got = dl.read(e.deadline_text, received, cal)
        urgent = [w for w in URGENT_WORDS if w in e.deadline_text]
        if got.ok:
            e.deadline_at, e.deadline_flags = got.at, got.flags
        else:
            e.deadline_open = got.reason
    else:
        got, why, urgent = deadline_in_text(rest, received, cal)
        if got is not None:
            e.deadline_text, e.deadline_at, e.deadline_flags = got.text, got.at, got.flags
        e.deadline_open = why
    if urgent and not e.urgency:
        e.urgency = "加急"
        e.findings.append(f"文中有“{'、'.join(urgent)}”，建议紧急程度为加急")
    if e.deadline_at is not None:
        e.findings += deadline_findings(e.deadline_at, received, cal, e.deadline_flags)
    elif e.deadline_open:
        e.findings.append(f"时限待明确：{e.deadline_open}")
    else:
        e.findings.append("未写明时限，请核定时补写，或询问交办领导")
    # 承办, 协办
    staff = directory.cfg.office.staff[0]
    if "承办" in fields or "协办" in fields:
        lead, unknown = read_units(one.get("承办", ""), directory, staff)
        co, unknown_co = read_units(one.get("协办", ""), directory, staff)
        e.unknown_units = unknown + unknown_co
        e.lead = lead[0] if lead else ""
        e.co_units = [a for a in lead[1:] + co if a != e.lead]
        e.findings += unknown_lines(e.unknown_units)
    else:
        leads, cos = units_in_text(rest, directory, staff)
        if leads:
            e.lead = leads[0]
            e.co_units = leads[1:] + cos
            if len(leads) > 1:
                e.findings.append("文中有多个牵头单位，已按第一个建议承办，其余列为协办，请核定")
        elif cos:
            e.co_units = cos
        if not e.lead:
            lead, co = _route_units(directory, e.content, rest)
            if lead:
                e.lead, e.units_suggested = lead, True
                e.co_units = e.co_units or [a for a in co if a != lead]
                e.findings.append("文中未写明承办单位，按分工规则建议，请核定")
    if not e.lead:
        e.findings.append("承办单位未明确，请核定时写明“承办：单位名称”")
    marks = [w for w in SECRET_WORDS if w in f"{subject}\n{text}"]
    if marks:
        e.findings.append(f"文中出现“{'、'.join(marks)}”字样，请确认是否涉密；涉密事项不得经普通邮件办理")
    return e


# -- the 派发 reply (step 3) --------------------------------------------------------------------

def confirm(current: Elements, fields: dict[str, list[str]], now: datetime, directory, cal, sender: str,
            default_deadline: str = "") -> Elements:
    """The elements a 派发 reply leaves: each element line replaces its element, a missing line keeps what stands.
    A 时限： line is read against `now` (the reply's day). `problems` lists what stops the 派发 (§6.9);
    with `default_deadline` set (e.g. "10d"), a missing 时限 becomes that many working days from now."""
    e = replace(current, findings=[], problems=[], unknown_units=[], co_units=list(current.co_units))
    one = {k: "\n".join(v).strip() for k, v in fields.items()}
    if one.get("内容"):
        e.content = one["内容"]
    if "要求" in fields:
        e.requirements = "\n".join(v for v in fields["要求"] if v).strip()
    if "紧急" in fields:
        value = one["紧急"].strip("。 ")
        if value in URGENCIES:
            e.urgency = value
        elif value in NOT_URGENT:
            e.urgency = ""
        else:
            e.problems.append(f"紧急程度“{value}”无法识别，请写“特急”“加急”或“一般”")
    if "反馈周期" in fields:
        e.feedback_every, why = feedback_every(one["反馈周期"])
        if why:
            e.problems.append(why)
    e.default_deadline = False
    if "时限" in fields:
        got, why = read_deadline(one["时限"], now, cal)
        e.deadline_text = one["时限"]
        e.deadline_at, e.deadline_flags = (got.at, got.flags) if got else (None, ())
        if why:
            e.problems.append(why)
    elif e.deadline_at is None:
        if default_deadline:
            e.deadline_at = default_at(default_deadline, now, cal)
            e.deadline_text, e.default_deadline = f"默认时限{default_deadline}", True
        else:
            e.problems.append(e.deadline_open or f"未写明时限，{dl.EXAMPLE}")
    elif e.deadline_at <= now:
        e.problems.append(f"时限{dl.format_deadline(e.deadline_at, now)}已过，{dl.EXAMPLE}")
    if "承办" in fields:
        lead, unknown = read_units(one["承办"], directory, sender)
        e.unknown_units += unknown
        if len(lead) > 1:
            e.problems.append("承办单位只能写一个，其余请写在“协办：”行")
        e.lead = lead[0] if lead else ""
        if not lead and not unknown:
            e.problems.append("未写明承办单位，请加一行“承办：单位名称”")
        e.units_suggested = False
    if "协办" in fields:
        co, unknown = read_units(one["协办"], directory, sender)
        e.unknown_units += unknown
        e.co_units = co
    e.co_units = [a for a in e.co_units if a != e.lead]
    e.problems += unknown_lines(e.unknown_units)
    if not e.lead and "承办" not in fields:
        e.problems.append("未写明承办单位，请加一行“承办：单位名称”")
    if e.deadline_at is not None and not e.problems:
        e.findings = deadline_findings(e.deadline_at, now, cal, e.deadline_flags)
    return e


def feedback_every(text: str) -> tuple[str, str]:
    """反馈周期: 5d, 3个工作日, 每周 → ("5d", "") or ("", why)."""
    t = (text or "").strip().strip("。").replace(" ", "")
    if t in ("", "无", "不设", "-"):
        return "", ""
    m = re.fullmatch(r"(?:每)?(\d{1,2})个?工作日", t)
    if m:
        t = f"{m.group(1)}d"
    elif t in ("每周", "一周", "每星期"):
        t = "5d"
    try:
        return str(parse_duration(t)), ""
    except ValueError:
        return "", f"反馈周期“{text.strip()}”无法识别，请写如“反馈周期：5d”（每5个工作日）"


def default_at(duration: str, now: datetime, cal) -> datetime:
    """jiaoban.default_deadline from `now`: "10d" is the end of the 10th working day after today, as 10个工作日内;
    hours and minutes are working time."""
    d = parse_duration(duration)
    if d.unit == "d":
        got = dl.read(f"{d.amount}个工作日内", now, cal)
        if got.ok:
            return got.at
    return cal.add(now, d)


# -- forwarded mail ---------------------------------------------------------------------------------

_SEPARATOR = re.compile(r"^\s*(?:-{2,}|_{5,}|—{2,})\s*(?:原始邮件|原邮件|转发的邮件|转发邮件|原始郵件|original message|"
                        r"forwarded message|replied message)?\s*(?:-{2,}|—{2,})?\s*$", re.I)
_FROM = re.compile(r"^\s*\*?(?:发件人|寄件者|寄件人|from)\*?\s*[:：]\s*(.+?)\s*$", re.I)
_HEADER = re.compile(r"^\s*\*?(?:发件人|寄件者|寄件人|from|发送时间|发件时间|发送日期|日期|时间|sent|date|收件人|收件者|to|"
                     r"抄送|副本|cc|主题|主旨|subject)\*?\s*[:：]", re.I)
_ADDRESS = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def forwarded(text: str) -> tuple[str, str, str]:
    """The forwarded mail below a text: (its 发件人 as written, its own text, the whole forwarded part);
    ("", "", "") when there is none. Clients write the header as 发件人:/From: lines (QQ, Foxmail, Outlook, Gmail),
    after a separator line or not."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        m = _FROM.match(line)
        if not m:
            continue
        start = i - 1 if i and _SEPARATOR.match(lines[i - 1]) else i
        j = i + 1
        while j < len(lines) and lines[j].strip() and _HEADER.match(lines[j]):
            j += 1
        body_lines = []
        for line2 in lines[j:]:
            if _SEPARATOR.match(line2) or _FROM.match(line2):
                break
            body_lines.append(line2)
        return m.group(1).strip(), "\n".join(body_lines).strip(), "\n".join(lines[start:]).strip()
    return "", "", ""


def sender_named(written: str, directory) -> str:
    """The address of a 发件人 written as `"李副总"<li@t.test>;`, `李副总 [mailto:li@t.test]` or `李副总`; ""."""
    m = _ADDRESS.search(written or "")
    if m:
        return m.group(0).lower()
    name = re.sub(r"[\"'“”<>;；\[\]]", " ", written or "").split()
    party = directory.resolve(name[0]) if name else None
    return party.address if party is not None and directory.is_known(party.address) else ""
