"""The 请示 format check: picks the 请示 out of a mail, runs the rule table, words the findings; never sends mail."""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from daemon.checks.document import CLOSING, clean_text, deadline_of, flat, is_title_line, parse, urgency_of
from daemon.checks.marking import classification_of
from daemon.checks.rules import HINT, RETURN, RULES, Rule, rule
from daemon.doctext import (IMAGE_SUFFIXES, MAIL_SECONDS, MAX_ATTACHMENTS, MAX_TEXT, NOTE_LIMIT, TEXT_SUFFIXES,
                            extract_text)

__all__ = ["Finding", "CheckResult", "check", "check_file", "main_check", "format_findings", "classification_of",
           "RULES", "Rule", "rule", "RETURN", "HINT"]


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # RETURN | HINT
    message: str
    reason: str
    suggestion: str


@dataclass(frozen=True)
class CheckResult:
    findings: tuple[Finding, ...]
    title: str | None
    source: str
    urgency: str
    deadline: date | None
    classification: str
    must_return: bool


# ---------------------------------------------------------------- running the check

def _settings(settings) -> tuple[set[str], dict[str, str], bool, dict[str, str]]:
    if settings is None:
        return set(), {}, False, {}
    return (set(getattr(settings, "disabled", ()) or ()), dict(getattr(settings, "severity", {}) or {}),
            bool(getattr(settings, "require_signer", False)), dict(getattr(settings, "suggestions", {}) or {}))


def _score(text: str, filename: str) -> int:
    """How much a text looks like the 请示 itself rather than a cover note or an annex."""
    lines = [l for l in clean_text(text).split("\n") if l]
    score = 4 if any(is_title_line(l) and re.search("请示|报告|申请", l) for l in lines[:12]) else 0
    score += 2 if CLOSING.search(flat(text)) else 0
    score += 1 if any(re.search(r"[:：]$", l) and len(l) <= 40 for l in lines[:12]) else 0
    score += 2 if "请示" in filename else 0
    return score


def _candidates(body: str, attachments: list[tuple[str, bytes]]):
    """(source, text, filename or None) for the body and each readable attachment; notes of unread ones."""
    found = [("正文", body or "", None)]
    notes: list[tuple[str, str]] = []
    deadline = time.monotonic() + MAIL_SECONDS        # one mail's attachments never outlast the watchdog
    read = 0
    for name, data in attachments:
        suffix = Path(name or "").suffix.lower()
        if suffix not in TEXT_SUFFIXES and suffix not in IMAGE_SUFFIXES and "请示" not in (name or ""):
            continue
        read += 1
        if read > MAX_ATTACHMENTS:
            notes.append((name, NOTE_LIMIT))
            continue
        text, note = extract_text(name, data, budget=deadline - time.monotonic())
        if text is None:
            notes.append((name, note))
        else:
            found.append((name, text, name))
    return found, notes


def check(subject: str, body: str, attachments: list[tuple[str, bytes]], today: date,
          settings=None) -> CheckResult:
    disabled, severity, require_signer, suggestions = _settings(settings)
    body = (body or "")[:MAX_TEXT]          # a 请示 is a few pages: the rest of a huge body is not read
    attachments = list(attachments or [])
    candidates, notes = _candidates(body, attachments)
    source, text, chosen = max(candidates, key=lambda c: (_score(c[1], c[2] or ""), c[2] is not None))
    others = [name for name, _ in attachments if name != chosen]
    doc = parse(text, others)
    doc.today = today
    # the marking of the mail and of every attached document, not only of the one taken for the 请示
    doc.classification = classification_of(subject, [t for _, t, _ in candidates], [name for name, _ in attachments])
    subject_title = re.sub(r"^((re|fw|fwd|回复|答复|转发)\s*[:：]\s*|【[^】]*】\s*)+", "", subject or "",
                           flags=re.I).strip()
    if doc.title is None and chosen is None and is_title_line(subject_title):
        doc.title, doc.subject_title = subject_title, True
    only = None
    if _score(text, chosen or "") < 4 and notes:   # the 请示 itself is in a file we could not read
        doc.unreadable = "；".join(f"附件“{name}”：{note}" for name, note in notes)
        only = {"classified", "unreadable"}
    findings = []
    for r in RULES.values():
        if r.id in disabled or (only is not None and r.id not in only) or (r.id == "signer" and not require_signer):
            continue
        message = r.test(doc)
        if message:
            findings.append(Finding(r.id, severity.get(r.id, r.severity), message, r.reason,
                                    suggestions.get(r.id, r.suggestion)))
    findings.sort(key=lambda f: f.severity != RETURN)
    title = doc.title if doc.title and doc.title.endswith("请示") and not doc.subject_title else None
    return CheckResult(findings=tuple(findings), title=title, source=source,
                       urgency=urgency_of(subject, doc.head), deadline=deadline_of(doc.body or text, today),
                       classification=doc.classification, must_return=any(f.severity == RETURN for f in findings))


def _parse_mail(raw: bytes):
    """(subject, text, [(filename, data)]) of a saved mail, through daemon.mime."""
    from daemon import mime
    parsed = mime.parse(raw)
    return parsed.subject or "", parsed.text or "", [(a.filename or "", a.data) for a in parsed.attachments]


def check_file(path: Path, today: date, settings=None) -> CheckResult:
    """Check a saved .eml, or a lone .docx/.pdf/.txt (its 附件 cannot be compared then)."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix.lower() == ".eml":
        subject, text, attachments = _parse_mail(data)
        return check(subject, text, attachments, today, settings)
    text, note = extract_text(path.name, data)
    if text is None:
        raise ValueError(note)
    result = check("", "", [(path.name, data)], today, settings)
    kept = tuple(f for f in result.findings if not f.rule.startswith("attachment_"))
    return CheckResult(kept, result.title, result.source, result.urgency, result.deadline,
                       result.classification, any(f.severity == RETURN for f in kept))


def format_findings(findings) -> str:
    """The findings as a Chinese plain-text block, 退回-level first."""
    findings = sorted(findings, key=lambda f: f.severity != RETURN)
    if not findings:
        return "经自动审查，未发现不符合请示行文规范的问题。"
    must = sum(1 for f in findings if f.severity == RETURN)
    lines = [f"自动审查意见（共{len(findings)}条，其中须退回修改{must}条）："]
    for n, f in enumerate(findings, 1):
        lines += [f"{n}.【{f.severity}】{f.message}。", f"   依据：{f.reason}。", f"   建议：{f.suggestion}"]
    return "\n".join(lines)


def today_in_office() -> date:
    """Today in China (the office's calendar), honouring OFFICEFLOW_NOW."""
    from zoneinfo import ZoneInfo

    from daemon import clock
    return clock.now().astimezone(ZoneInfo("Asia/Shanghai")).date()


def main_check(path: str) -> int:
    """`officeflow check FILE`: one finding a line, must-return first; exit 1 when any must be returned."""
    target = Path(path)
    if target.suffix.lower() not in {".eml", ".docx", ".pdf", ".txt"}:
        print(f"无法审查：不支持的文件类型“{target.suffix or target.name}”，请提供 .eml、.docx、.pdf 或 .txt 文件。",
              file=sys.stderr)
        return 2
    try:
        result = check_file(target, today_in_office())
    except FileNotFoundError:
        print(f"无法审查：文件“{target}”不存在。", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"无法审查：文件“{target}”无法读取（{exc.strerror or exc}）。", file=sys.stderr)
        return 2
    except Exception as exc:  # unreadable file, broken mail, bad OFFICEFLOW_NOW: exit 2, never a traceback
        print(f"无法审查：{target.name}：{exc}", file=sys.stderr)
        return 2
    for f in result.findings:
        print(f"【{f.severity}】{f.rule}：{f.message}。建议：{f.suggestion}")
    if not result.findings:
        print("未发现不符合请示行文规范的问题。")
    return 1 if result.must_return else 0
