"""Raw mail bytes to a decoded ParsedMail; pure: never reads files, never talks to a server, never judges content."""

from __future__ import annotations

import base64
import binascii
import email
import email.errors
import email.message
import email.policy
import email.utils
import hashlib
import html as html_lib
import quopri
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser

from daemon.limits import MAX_NAME, MAX_REFERENCES, clip, printable

__all__ = [
    "Attachment",
    "MailParseError",
    "ParsedMail",
    "decode_bytes",
    "html_to_text",
    "parse",
    "strip_subject_prefixes",
]


MAX_DEPTH = 40     # MIME nesting read; deeper parts are counted in ParsedMail.skipped_parts, not read
MAX_PARTS = 500    # MIME parts read; the rest are counted in ParsedMail.skipped_parts too
MAX_QUOTE_DEPTH = 10   # "> " marks written for nested HTML quotes: 20,000 nested ones made 800 MB of text


class MailParseError(Exception):
    """The mail cannot be understood at all; the caller files it as failed with str(exc) as the reason."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    subject: str
    from_addr: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reply_to: tuple[str, ...]
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str
    attachments: tuple[Attachment, ...]
    auto: str | None
    skipped_parts: int = 0      # MIME parts nested deeper than MAX_DEPTH or beyond MAX_PARTS, left unread
    _headers: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
    # why From names no single trustworthy mailbox (SPEC §3: an unknown sender); "" when it does
    from_doubt: str = ""
    # what is read out of this mail's (unchanging) text more than once, by name (daemon.replies.new_text); a copy
    # made with dataclasses.replace starts empty
    derived: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def header(self, name: str) -> str:
        """The first header called `name` (any case), decoded; "" when absent."""
        found = self.headers(name)
        return found[0] if found else ""

    def headers(self, name: str) -> list[str]:
        """Every header called `name` (any case), decoded, top first."""
        wanted = name.lower()
        return [decode_header(value) for key, value in self._headers if key.lower() == wanted]


# ---------------------------------------------------------------- charsets

# Labels senders use for GB text are upgraded to GB18030, its superset: a part labelled
# gb2312 routinely carries GBK characters.
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "gb_2312-80": "gb18030", "euc-cn": "gb18030", "x-euc-cn": "gb18030", "csgb2312": "gb18030",
    "gb18030": "gb18030", "ms936": "gb18030", "windows-936": "gb18030", "chinese": "gb18030",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "x-big5": "big5hkscs", "cp950": "big5hkscs",
    "utf8": "utf-8", "utf-8": "utf-8", "unicode-1-1-utf-8": "utf-8",
    "us-ascii": "utf-8", "ascii": "utf-8", "ansi_x3.4-1968": "utf-8",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252",
    "ks_c_5601-1987": "cp949", "euc-kr": "cp949",
    "shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932",
    "iso-8859-8-i": "iso8859-8", "iso-8859-8-e": "iso8859-8", "iso-8859-6-i": "iso8859-6",
}


def _codec(label: str | None) -> str | None:
    """A Python codec for a charset label as found in mail, or None when the label is useless."""
    if not label:
        return None
    label = label.strip().strip("\"'").strip().lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*zh
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        import codecs

        name = codecs.lookup(label).name
    except (LookupError, ValueError):
        return None
    return _ALIASES.get(name, name)


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Bytes to text: the declared charset, then UTF-8, then GB18030, then GB18030 with replacement."""
    codec = _codec(label)
    if codec in (None, "utf-8"):
        # UTF-8 with a stray invalid byte (Dovecot turns NUL into 0x80, say) loses that character only;
        # reading the whole text as GB18030 instead would turn all of it into mojibake
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = len(data.decode("utf-8", errors="replace")) - len(data.decode("utf-8", errors="ignore"))
            if codec == "utf-8" and bad <= max(2, len(data) // 500) and exc.start > 0:
                return data.decode("utf-8", errors="replace")
    tried = []
    for name in (codec, "utf-8", "gb18030"):
        if name is None or name in tried:
            continue
        tried.append(name)
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
    if codec == "big5hkscs":
        return data.decode("big5hkscs", errors="replace")
    return data.decode("gb18030", errors="replace")


_RAW_BYTE = re.compile("[\udc80-\udcff]")        # a raw 8-bit byte kept by the email package as a surrogate


def _unescape_raw(value: str) -> str:
    """A header str that carries raw 8-bit bytes (as surrogates) decoded as UTF-8 or GB18030."""
    if not _RAW_BYTE.search(value):
        return value
    return decode_bytes(value.encode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")


def _word_bytes(kind: str, payload: str) -> bytes:
    if kind in "bB":
        payload = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        payload += "=" * (-len(payload) % 4)
        try:
            return base64.b64decode(payload)
        except (binascii.Error, ValueError):
            return b""
    raw = payload.replace("_", " ").encode("ascii", "surrogateescape")
    return quopri.decodestring(raw, header=False)


def decode_header(value: str | None) -> str:
    """An RFC 2047 header value to text; adjacent words of one charset are joined as bytes first."""
    if not value:
        return ""
    value = str(value)
    value = re.sub(r"\r?\n[ \t]*", " ", value)
    out: list[str] = []
    pending: list[bytes] = []
    pending_label: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_label
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_label))
        pending, pending_label = [], None

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        label, kind, payload = match.groups()
        if between and not (between.isspace() and pending):
            flush()
            out.append(_unescape_raw(between))
        codec = _codec(label)
        if pending and codec != pending_label:
            flush()
        pending.append(_word_bytes(kind, payload))
        pending_label = codec
        pos = match.end()
    flush()
    out.append(_unescape_raw(value[pos:]))
    return "".join(out)


def _normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    """(decoded name, bare lower-cased address) pairs from raw address headers."""
    result = []
    for raw in values:
        text = re.sub(r"\r?\n[ \t]*", " ", str(raw))
        try:
            pairs = email.utils.getaddresses([text])
        except Exception:  # noqa: BLE001 - malformed address lists must not stop the parse
            pairs = [("", m) for m in re.findall(r"[\w.+-]+@[\w.-]+", text)]
        for name, addr in pairs:
            addr = _unescape_raw(addr).strip().strip("<>").lower()
            if not addr:
                continue
            result.append((_normalise_space(decode_header(name)), addr))
    return result


_ADDRESS_SHAPE = re.compile(r"[^\s@<>()\[\]\"',;:]+@[^\s@<>()\[\]\"',;:]+\.[^\s@<>()\[\]\"',;:]+")


def normal_address(addr: str) -> str:
    """An address as compared everywhere: lower case, an internationalised domain in its ASCII (IDNA) form."""
    local, at, domain = addr.strip().strip("<>").lower().rpartition("@")
    if not at:
        return domain
    domain = domain.rstrip(".")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            pass            # not a valid IDN: kept as written, it will match no configured address
    return f"{local}@{domain}"


MAX_FROM = 1000      # characters of one From header read with the header registry


def sender(values: list[str]) -> tuple[str, str, str]:
    """(display name, address, doubt) of the From header values (raw), read with the header registry.

    The sender is the one mailbox of the one From header. `doubt` says why there is none to trust: no or
    several From headers, not one mailbox (a list, a group), a parse defect, or an address written
    anywhere else in the header (display name, encoded word, comment) that is not the real address.
    The address returned is always the real (angle) address, never one taken from a display name.
    """
    if not values:
        return "", "", ""
    texts = [_quoted_words(_unescape_raw(re.sub(r"\r?\n[ \t]*", " ", str(v))).strip()) for v in values]
    if len(texts) > 1:
        found = "、".join(list(dict.fromkeys(a for t in texts[:5] if len(t) <= MAX_FROM
                                            for _, a in _registry_mailboxes(t)[0]))[:5])
        return "", "", f"邮件有{len(texts)}个发件人（From）字段（{found or '无地址'}）"
    text = texts[0]
    if len(text) > MAX_FROM:
        # no person's From is this long, and the registry's parse grows much faster than its length
        angle = re.findall(r"<([^<>\s]{1,300}@[^<>\s]{1,300})>", text)
        return "", normal_address(angle[-1]) if angle else "", f"发件人字段过长（{len(text)}个字符）"
    mailboxes, groups, defects = _registry_mailboxes(text)
    bare = re.fullmatch(r"([^\"<>]*?)\s*<([^<>\s]+)>", text)
    if defects and bare and bare.group(1):
        # an unquoted display name that is not a valid phrase ("li@a.test <u@b.test>", "Amazon.co.jp@x <…>"):
        # read as the name it is shown as; the address check below judges it
        mailboxes, groups, defects = _registry_mailboxes(f'"{_quote(bare.group(1))}" <{bare.group(2)}>')
    if not mailboxes:
        return "", "", "发件人字段中没有邮箱地址" if text else ""
    name, addr = mailboxes[0]
    name = (_addresses([text])[:1] or [(name, "")])[0][0] or name   # our decoding of GB names, as elsewhere
    if len(mailboxes) > 1:
        # no one address to answer: every one of them might be the victim
        shown = "、".join(a for _, a in mailboxes[:5]) + ("等" if len(mailboxes) > 5 else "")
        return "", "", f"发件人字段含{len(mailboxes)}个地址（{shown}）"
    if groups or defects or "@" not in addr:
        # the registry may take a bare address in front of the angle address for the mailbox (or a stray ":" for
        # a group's name): the alert names the angle address, the one a server that checks senders looks at
        angle = re.findall(r"<([^<>\s]+@[^<>\s]+)>", text)
        addr = normal_address(angle[-1]) if angle else addr if "@" in addr else ""
        return name, addr, "发件人字段为地址组形式" if groups else "发件人字段格式有误"
    shown = unicodedata.normalize("NFKC", decode_header(text) + " " + name)
    if {normal_address(a.strip(".")) for a in _ADDRESS_SHAPE.findall(shown)} - {addr}:
        return name, addr, "发件人显示名中写有另一个邮箱地址"
    return name, addr, ""


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quoted_words(text: str) -> str:
    """Encoded words inside a quoted display name ("=?gb18030?B?…?=", as QQ and Foxmail write it) decoded."""
    if "=?" not in text:
        return text
    return _QUOTED.sub(lambda m: f'"{_quote(decode_header(m.group(1)))}"' if "=?" in m.group(1) else m.group(0),
                       text)


# received as RFC 5322 §4 and RFC 6532 allow: a period in a name ("John Q. Public"), UTF-8 local parts
_TOLERATED = (email.errors.ObsoleteHeaderDefect, email.errors.NonASCIILocalPartDefect)


def _registry_mailboxes(text: str) -> tuple[list[tuple[str, str]], bool, bool]:
    """([(name, normalised address)], any group syntax, any defect) by the modern header registry."""
    try:
        header = email.policy.default.header_factory("from", text)
        groups = header.groups
        defects = any(not isinstance(d, _TOLERATED) for d in header.defects)
    except Exception:  # noqa: BLE001 - the registry gives up on some hostile values: no mailbox to trust
        return [], False, True
    mailboxes = [(_normalise_space(a.display_name or ""), normal_address(a.addr_spec)) for g in groups
                 for a in g.addresses if a.addr_spec]
    return mailboxes, any(g.display_name is not None for g in groups), defects


_MSGID = re.compile(r"<([^<>\s]+)>")


def _ids(value: str, keep: int | None = None) -> tuple[str, ...]:
    """Message-IDs in order, each once (linear time); with `keep`, only the last `keep` of them."""
    value = _unescape_raw(value or "")
    found = _MSGID.findall(value)
    if not found:
        found = [tok.strip("<>") for tok in value.split() if "@" in tok]
    unique = tuple(dict.fromkeys(item for item in found if item))
    return unique[-keep:] if keep else unique


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(_unescape_raw(value).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


# Reply and forward prefixes, stacked, with an ASCII or full-width colon, plus the
# decorations that gateways add in front of them.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|wg|sv|vs|tr|antw|回复|答复|回覆|转发|轉寄|轉發)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*"
    r"|\[(?:external(?: mail| email)?|外部邮件|ext)\]\s*)+",
    re.IGNORECASE,
)


def strip_subject_prefixes(subject: str) -> str:
    """The subject without stacked reply/forward prefixes (Re:/回复：/答复:/Fw:/转发: …) and gateway tags."""
    return _normalise_space(_PREFIX.sub("", subject or ""))


# ---------------------------------------------------------------- HTML

_BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "pre", "hr", "section", "article", "header", "footer", "dl", "dt", "dd", "center",
    "address", "form", "title",
}
_SKIP = {"script", "style", "head", "template", "noscript", "xml", "o:p"}


class _TextMaker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote = 0
        self.skip = 0
        self.pre = 0

    def _break(self) -> None:
        line = "".join(self.current).rstrip()
        prefix = "> " * min(self.quote, MAX_QUOTE_DEPTH)
        self.lines.append((prefix + line.lstrip(" ")) if line.strip() else prefix.rstrip())
        self.current = []

    def _soft_break(self) -> None:
        if "".join(self.current).strip():
            self._break()

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag in _SKIP:
            self.skip += 1
            return
        if tag == "br":
            self._break()
        elif tag in _BLOCK:
            self._soft_break()
        if tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "hr":
            self.lines.append("> " * min(self.quote, MAX_QUOTE_DEPTH) + "_" * 32)
        elif tag in ("td", "th") and self.current and self.current[-1] not in (" ", "\t"):
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag in _SKIP:
            return
        self.handle_starttag(tag, attrs)
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag in _BLOCK and tag != "br":
            self._soft_break()
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        data = data.replace("\xa0", " ")
        if self.pre:
            parts = data.split("\n")
            for i, part in enumerate(parts):
                if i:
                    self._break()
                self.current.append(part)
            return
        data = re.sub(r"[ \t\r\n\f]+", " ", data)
        if not self.current or not "".join(self.current).strip():
            data = data.lstrip(" ")
        self.current.append(data)

    def text(self) -> str:
        self._soft_break()
        out: list[str] = []
        for line in self.lines:
            if not line.strip(" >") and out and not out[-1].strip(" >"):
                continue  # collapse runs of empty lines
            out.append(line)
        while out and not out[0].strip(" >"):
            out.pop(0)
        while out and not out[-1].strip(" >"):
            out.pop()
        return "\n".join(out)


def html_to_text(html: str) -> str:
    """HTML to plain text: block elements and <br> become line breaks, blockquotes become "> " lines."""
    if not html:
        return ""
    maker = _TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:  # noqa: BLE001 - broken markup: keep what we have, else strip tags bluntly
        if not maker.lines and not maker.current:
            return html_lib.unescape(re.sub(r"<[^>]*>", " ", html)).strip()
    return maker.text()


# ---------------------------------------------------------------- bodies

def _raw_header(part: email.message.Message, name: str) -> str:
    for key, value in part.raw_items():
        if key.lower() == name:
            return str(value)
    return ""


def _split_params(value: str) -> list[tuple[str, str]]:
    """`a; k=v; k2="v;2"` to [(k, v), ...] (quotes kept), tolerant of stray semicolons."""
    pieces, buf, quoted = [], [], False
    for ch in re.sub(r"\r?\n[ \t]*", " ", value):
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            pieces.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    pieces.append("".join(buf))
    pairs = []
    for piece in pieces[1:]:
        if "=" in piece:
            key, _, val = piece.partition("=")
            pairs.append((key.strip().lower(), val.strip()))
    return pairs


def _param(part: email.message.Message, name: str, header: str) -> str:
    """A decoded MIME parameter (RFC 2231, RFC 2047 inside quotes, or raw 8-bit)."""
    pairs = _split_params(_raw_header(part, header))
    if not any(k == name or k.startswith(name + "*") for k, _ in pairs):
        return ""
    try:
        params = email.utils.decode_params([("", "")] + pairs)[1:]
    except Exception:  # noqa: BLE001
        params = [(k, email.utils.unquote(v)) for k, v in pairs]
    for key, value in params:
        if key.lower() != name:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, percent-decoded latin-1 text)
            charset, _lang, text = value
            text = email.utils.unquote(text)
            try:
                data = text.encode("latin-1")
            except UnicodeEncodeError:
                data = text.encode("utf-8", "surrogateescape")
            return decode_bytes(data, charset or None)
        return decode_header(email.utils.unquote(str(value)))
    return ""


def _filename(part: email.message.Message) -> str:
    name = _param(part, "filename", "content-disposition") or _param(part, "name", "content-type")
    name = _normalise_space(name.replace("\\", "/").rsplit("/", 1)[-1])
    return name


def _payload(part: email.message.Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001
        data = None
    if data is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogateescape")
        return b""
    return data


def _charset(part: email.message.Message) -> str | None:
    try:
        return part.get_param("charset")  # type: ignore[return-value]
    except Exception:  # noqa: BLE001
        return None


def _content_type(part: email.message.Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _disposition(part: email.message.Message) -> str:
    value = str(part.get("content-disposition", "") or "")
    return value.split(";", 1)[0].strip().lower()


class _Bodies:
    def __init__(self) -> None:
        self.texts: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []
        self.skipped = 0
        self.parts = 0

    def add_attachment(self, name: str, ctype: str, data: bytes, ext: str = ".bin") -> None:
        if not name:
            name = f"附件{len(self.attachments) + 1}{ext}"
        self.attachments.append(Attachment(clip(printable(name), MAX_NAME), ctype, data))

    def walk(self, part: email.message.Message, depth: int = 0) -> None:
        ctype = _content_type(part)
        if depth > MAX_DEPTH or self.parts >= MAX_PARTS:
            self.skipped += 1       # kept out of the mail's text; the caller tells office staff
            return
        self.parts += 1
        if part.is_multipart() and not ctype.startswith("message/"):
            payload = part.get_payload()
            children = payload if isinstance(payload, list) else []
            if ctype == "multipart/alternative":
                # One text and one HTML from the alternatives; the rest are the same content.
                before_t, before_h = len(self.texts), len(self.htmls)
                for child in children:
                    self.walk(child, depth + 1)
                del self.texts[before_t + 1:]
                del self.htmls[before_h + 1:]
            else:
                for child in children:
                    self.walk(child, depth + 1)
            return
        disposition = _disposition(part)
        name = _filename(part)
        if ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                try:
                    data = inner[0].as_bytes(policy=email.policy.compat32)
                except Exception:  # noqa: BLE001
                    data = str(inner[0]).encode("utf-8", "surrogateescape")
                subject = next((v for k, v in inner[0].raw_items() if k.lower() == "subject"), "")
                subject = _normalise_space(decode_header(str(subject)))
            else:
                data, subject = _payload(part), ""
            base = name or (re.sub(r'[\\/:*?"<>|\r\n]', "_", subject)[:120] + ".eml" if subject else "")
            self.add_attachment(base, ctype, data, ".eml")
            return
        data = _payload(part)
        if (ctype in ("text/plain", "text/html") and disposition != "attachment" and not name):
            text = decode_bytes(data, _charset(part))
            (self.texts if ctype == "text/plain" else self.htmls).append(text)
            return
        if ctype.startswith("multipart/"):
            return  # a multipart with a broken body: nothing usable
        self.add_attachment(name, ctype, data)


# ---------------------------------------------------------------- automatic mail

# Subject words count only as a prefix a responder put in front of the subject it answers ("自动回复：…",
# "Undeliverable: …"), or as a bounce's whole subject: never inside a title (关于春节休假安排的请示) or after
# our 【number】, so a 请示 about holidays and every reply to it are handled like any other mail.
_LEAD = r"^\s*(?:\[(?:external|外部邮件|ext)\]\s*)?"
_OOO_WORDS = (r"自动回复|自動回覆|自動回復|自动答复|自動答覆|自动应答|自動應答|自动回信|外出|休假|不在办公室|"
              r"automatic reply|auto[- ]?reply|auto[- ]?response|autoresponse|out of (?:the )?office(?: auto ?reply)?|"
              r"vacation(?: reply)?|abwesenheitsnotiz|abwesend|r[ée]ponse automatique|absence")
_BOUNCE_WORDS = (r"系统退信|退信(?:通知)?|邮件投递失败|投递失败|无法投递|undeliverable|undelivered mail(?: returned to sender)?|"
                 r"delivery status notification(?: \((?:failure|delay)\))?|mail delivery (?:failed|failure|subsystem)|"
                 r"returned mail|delivery failure|failure notice|non ?delivery report|nicht zustellbar|non remis")
# the word, then a colon, or the word in brackets: "自动回复：", "[外出]", "（休假）"
_OOO_PREFIX = re.compile(_LEAD + rf"(?:(?:{_OOO_WORDS})\s*[:：]|[\[【(（〔]\s*(?:{_OOO_WORDS})\s*[\]】)）〕])",
                         re.IGNORECASE)
_BOUNCE_PREFIX = re.compile(_LEAD + rf"(?:(?:{_BOUNCE_WORDS})\s*(?:[:：]|$)|[\[【(（〔]\s*(?:{_BOUNCE_WORDS})\s*[\]】)）〕])",
                            re.IGNORECASE)
_LIST_HEADERS = ("list-id", "list-unsubscribe", "list-post", "list-help", "mailing-list", "x-mailing-list")


def _auto(msg: email.message.Message, subject: str, from_addr: str) -> str | None:
    """Why a mail is automatic (SPEC §3), or None for a person's mail. The headers decide first; a subject
    prefix only names the kind, or marks a responder that writes no header (X-Auto-Response-Suppress asks
    others not to answer: it says nothing about the mail that carries it)."""
    def header(name: str) -> str:
        return str(msg.get(name, "") or "").strip().lower()

    ctype = _content_type(msg)
    report = str(msg.get_param("report-type") or "").lower() if ctype == "multipart/report" else ""
    if report == "disposition-notification":
        return "receipt"
    local = from_addr.split("@", 1)[0]
    submitted = header("auto-submitted").split(";", 1)[0].strip()
    precedence = header("precedence")
    null_sender = "return-path" in msg and re.sub(r"\s", "", header("return-path")) in ("<>", "")
    if ctype == "multipart/report" or local in ("mailer-daemon", "postmaster") or _BOUNCE_PREFIX.match(subject):
        return "bounce"
    if (header("x-autoreply") or header("x-autorespond") or precedence == "auto_reply"
            or submitted == "auto-replied" or _OOO_PREFIX.match(subject)):
        return "out-of-office"
    if submitted and submitted != "no":
        return "auto-submitted"
    if null_sender:
        return "bounce"
    if precedence in ("bulk", "junk", "list"):
        return "precedence"
    if any(msg.get(h) for h in _LIST_HEADERS):
        return "list"
    return None


# ---------------------------------------------------------------- parse

def parse(raw: bytes) -> ParsedMail:
    """Decode one RFC 822 mail; raises MailParseError (and nothing else) when it is not a mail at all."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise MailParseError(f"not bytes but {type(raw).__name__}")
    raw = bytes(raw)
    if not raw.strip():
        raise MailParseError("empty message")
    if raw.startswith(b"\xd0\xcf\x11\xe0"):
        raise MailParseError("an Outlook .msg (compound file), not an RFC 822 mail")
    try:
        return _parse(raw)
    except MailParseError:
        raise
    except RecursionError as exc:
        raise MailParseError("MIME structure nested too deeply") from exc
    except Exception as exc:  # noqa: BLE001 - the contract: nothing but MailParseError escapes
        raise MailParseError(f"cannot decode: {type(exc).__name__}: {exc}") from exc


_OBS_NAME = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.MULTILINE)


def _fix_obsolete_names(raw: bytes) -> bytes:
    """RFC 5322 obsolete syntax allows blanks before a header's colon ("From  : x"); drop them."""
    end = re.search(rb"\r?\n\r?\n", raw)
    head = raw[: end.start()] if end else raw
    if not _OBS_NAME.search(head):
        return raw
    return _OBS_NAME.sub(rb"\1:", head) + raw[len(head):]


def _parse(raw: bytes) -> ParsedMail:
    msg = email.message_from_bytes(_fix_obsolete_names(raw), policy=email.policy.compat32)
    # raw_items: values as received (8-bit bytes kept as surrogates), not compat32's lossy Header objects
    headers = tuple((str(k), str(v)) for k, v in msg.raw_items())
    known = {k.lower() for k, _ in headers}
    if not known & {"from", "to", "subject", "date", "message-id", "received", "mime-version",
                    "content-type", "return-path", "sender", "cc", "delivered-to"}:
        raise MailParseError("no mail header fields (not an RFC 822 message)")

    def all_of(name: str) -> list[str]:
        return [v for k, v in headers if k.lower() == name]

    def first(name: str) -> str:
        values = all_of(name)
        return values[0] if values else ""

    ids = _ids(first("message-id"))
    message_id = ids[0] if ids else ""
    if not message_id:
        message_id = "officeflow-" + hashlib.sha256(raw).hexdigest()[:32]
    subject = printable(_normalise_space(decode_header(first("subject"))))
    from_name, from_addr, from_doubt = sender(all_of("from") or all_of("sender"))
    from_name = clip(printable(from_name), MAX_NAME)

    bodies = _Bodies()
    bodies.walk(msg)
    text = "\n".join(t for t in bodies.texts if t.strip())
    html = "\n".join(bodies.htmls)
    if not text.strip() and html:
        text = html_to_text(html)
    text = printable(text.replace("\r\n", "\n").replace("\r", "\n"))

    return ParsedMail(
        message_id=message_id,
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        to=tuple(a for _, a in _addresses(all_of("to")) if a),
        cc=tuple(a for _, a in _addresses(all_of("cc")) if a),
        reply_to=tuple(a for _, a in _addresses(all_of("reply-to")) if a),
        date=_date(first("date")),
        in_reply_to=_ids(" ".join(all_of("in-reply-to")), keep=MAX_REFERENCES),
        references=_ids(" ".join(all_of("references")), keep=MAX_REFERENCES),
        text=text,
        html=printable(html),
        attachments=tuple(bodies.attachments),
        auto=_auto(msg, subject, from_addr),
        skipped_parts=bodies.skipped,
        _headers=headers,
        from_doubt=from_doubt,
    )
