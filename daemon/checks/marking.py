"""The 密级 marking (秘密/机密/绝密) of a mail, looked for where GB/T 9704 puts it; reads text, never files.

People type the marking in many ways (【机 密】, （機密）, 密级：机密, 机密★1年, zero-width or full-width
characters, HTML entities), so every text is normalised first. Only the marking position counts: the
subject, an attachment's name, and the first lines of the body and of each attached document — as a line
that begins with the level, a bracketed level, a 密级 label or a level with ★ and a period. A text that
merely mentions the word (保守秘密, 商业秘密保护, 关于机密文件管理办法的请示) is no marking.
"""

from __future__ import annotations

import html
import re
import unicodedata

from daemon.checks.document import clean_text

LEVELS = ("绝密", "机密", "秘密")
FIRST_LINES = 8          # the 份号, 密级 and 紧急程度 lines come before the 发文机关标志 and the title
_MAX_LINE = 200          # characters of a line looked at: a marking is short
_MAX_HEAD = 20_000       # characters of a text in which its first lines are looked for

# traditional and variant forms, brackets of every kind, stars; NFKC has already made full-width ASCII plain
_TABLE = str.maketrans({
    "機": "机", "祕": "秘", "袐": "秘", "絕": "绝", "絶": "绝", "級": "级", "個": "个", "長": "长",
    **{c: "(" for c in "【〔［[(（「『《〈<〖｛{⦅〘〚﹝﹙﹛"},
    **{c: ")" for c in "】〕］])）」』》〉>〗｝}⦆〙〛﹞﹚﹜"},
    **{c: "★" for c in "☆＊*✱✲✳⋆✶✷✸✹✺⭐※"},
})
# zero-width and other invisible characters: the format characters (Unicode category Cf), fillers and
# variation selectors
_INVISIBLE = re.compile("[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                        "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
                        "\U000e0000-\U000e0fff]")

_LEVEL = r"(绝\s*密|机\s*密|秘\s*密)"
_PERIOD = r"(?:\s*(?:\d+|[一二两三四五六七八九十]+)\s*(?:年|个月|月|天|日)|\s*长期|\s*永久)?"
_MARK = rf"(?:密\s*级\s*:?\s*)?{_LEVEL}(?:\s*★{_PERIOD})?"
_SEP = r"[\s()★:\-_.,，、;；/|+=~]"
# a bracketed level: （机密） 【机 密★1年】 [密级:秘密]
_BRACKETED = re.compile(rf"\(\s*{_MARK}\s*\)")
# a level with a star: 机密★1年 (a star after the level is a marking even inside a sentence)
_STARRED = re.compile(rf"(?<![\u4e00-\u9fff]){_LEVEL}\s*★")
# a 密级 label: 密级：机密
_LABELLED = re.compile(rf"密\s*级\s*:?\s*{_LEVEL}(?![\u4e00-\u9fff])")
# the level at the start (after a 份号), ending there or followed by a separator, an urgency or the title
_LEADING = re.compile(rf"^\s*(?:\d{{6}}\s*)?{_MARK}(?=$|{_SEP}|特急|加急|紧急|关于)")
# the level as a word of its own in a subject or a file name: …的请示 机密, 关于…_机密.docx
_WORD = re.compile(rf"(?:^|(?<={_SEP})){_LEVEL}(?=$|{_SEP})")


# every marking has 密 in it, written as such or as an HTML entity: texts without either are skipped
_MAY_MARK = re.compile("[密&]")


def normalise(text: str) -> str:
    """One form for every way of typing a marking: entities decoded, NFKC, no invisible characters, simplified
    characters, one kind of bracket, one star, plain spaces."""
    if "&" in text:
        text = html.unescape(html.unescape(text))
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"[^\S\n]+", " ", _INVISIBLE.sub("", text).translate(_TABLE))


def _level(match: re.Match | None) -> str:
    return re.sub(r"\s", "", match.group(1)) if match else ""


def _marked_line(line: str) -> str:
    for pattern in (_LEADING, _BRACKETED, _LABELLED, _STARRED):
        level = _level(pattern.search(line))
        if level:
            return level
    return ""


def _marked_name(name: str) -> str:
    """A subject or a file name: a marking anywhere that stands on its own."""
    return _marked_line(name) or _level(_WORD.search(name))


def first_lines(text: str, count: int = FIRST_LINES) -> list[str]:
    """The first `count` non-empty lines of a text's own part (a quoted earlier mail cut off), normalised."""
    lines = []
    for line in clean_text((text or "")[:_MAX_HEAD]).split("\n"):
        line = normalise(line[:_MAX_LINE]).strip()
        if line:
            lines.append(line)
            if len(lines) == count:
                break
    return lines


def classification_of(subject: str, texts, attachment_names) -> str:
    """The highest 密级 a mail is marked with, or "". `texts`: the body and each attached document's text."""
    from daemon.mime import strip_subject_prefixes
    if isinstance(texts, str):
        texts = [texts]
    found = {_marked_name(normalise(strip_subject_prefixes(subject or "")[:_MAX_LINE]))}
    for name in attachment_names or []:
        stem = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", (name or "").strip())
        found.add(_marked_name(normalise(stem[:_MAX_LINE])))
    for text in texts or []:
        if _MAY_MARK.search((text or "")[:_MAX_HEAD]):
            found.update(_marked_line(line) for line in first_lines(text))
    return next((level for level in LEVELS if level in found), "")
