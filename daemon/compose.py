"""Outgoing mail as bytes: the headers, a text and an HTML alternative, and attachments; pure, no I/O.

What the email package's EmailMessage would write with its modern policy, without parsing every header we
write only to fold it again (that cost more than everything else in sending a mail): headers officeflow
writes in a plain shape (ASCII addresses, IDs, dates) are written and folded here, subjects become RFC 2047
encoded words, attachment names RFC 2231 parameters; anything else (a display name, an address that is not
plain ASCII) goes through the email package's header machinery as before. Every line stays within 998
characters, header lines within 78 where a value allows it.
"""

from __future__ import annotations

import base64
import email.policy
import re
import secrets
import urllib.parse
from functools import lru_cache
from typing import NamedTuple

_POLICY = email.policy.SMTP     # the modern policy with CRLF: what officeflow always wrote with
LINE = 78                       # RFC 5322's recommended line length
MAX_LINE = 998                  # RFC 5322's hard limit
_WORD_BYTES = 45                # UTF-8 bytes in one encoded word: 60 base64 characters, 72 with =?utf-8?b?…?=
_SIMPLE_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                             r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_SIMPLE_ID = re.compile(r"<[!-;=?-~]+>")     # printable ASCII without <, > or blanks, in angle brackets
_TOKEN = r"[a-z0-9!#$&^_.+-]+"
_CONTENT_TYPE = re.compile(f"{_TOKEN}/{_TOKEN}")


def compose(headers: list[tuple[str, str]], text: str, html: str, attachments=()) -> bytes:
    """The whole message (CRLF line ends): `headers` in order, then a multipart/alternative of `text` and
    `html` (both UTF-8), inside a multipart/mixed with `attachments` (each with .name, .content_type and
    .data) when there are any."""
    skeleton, holes = compose_split(headers, text, html, attachments)
    return assemble(skeleton, [(hole.offset, hole.data) for hole in holes])


class Hole(NamedTuple):
    """A base64 body left out of a skeleton: its raw bytes go, base64-encoded, at `offset`."""
    offset: int
    data: bytes
    index: int | None       # the attachment's index in `attachments`; None for the text or the HTML part


def compose_split(headers: list[tuple[str, str]], text: str, html: str,
                  attachments=()) -> tuple[bytes, list[Hole]]:
    """The message of compose() without its base64 bodies (the text and HTML parts when they are not 7bit, every
    attachment), and where each goes back in. assemble() makes the message again; the bodies can be kept apart:
    an attachment once however many mails carry it, the texts compressed, unencoded."""
    out: list = [header(name, value) for name, value in headers]
    out.append(b"MIME-Version: 1.0\r\n")
    body = _multipart("alternative", [_text("plain", text), _text("html", html)])
    if attachments:
        body = _multipart("mixed", [body, *([_attachment_head(a), (a.data, i)] for i, a in enumerate(attachments))])
    out.append(body)
    pieces, holes, size = [], [], 0

    def walk(items) -> None:
        nonlocal size
        for item in items:
            if isinstance(item, bytes):
                pieces.append(item)
                size += len(item)
            elif isinstance(item, tuple):
                holes.append(Hole(size, *item))
            else:
                walk(item)

    walk(out)
    return b"".join(pieces), holes


def assemble(skeleton: bytes, bodies: list[tuple[int, bytes]]) -> bytes:
    """The whole message again from a skeleton and each base64 body's offset and raw bytes."""
    out, at = [], 0
    for offset, data in sorted(bodies, key=lambda x: x[0]):
        out += [skeleton[at:offset], _base64(data)]
        at = offset
    out.append(skeleton[at:])
    return b"".join(out)


# ---------------------------------------------------------------- headers

def header(name: str, value: str) -> bytes:
    """One header field, folded, with its CRLF."""
    key = name.lower()
    written = None
    if key == "subject":
        written = _subject(value)
    elif key in ("to", "cc", "reply-to"):
        written = _addresses(name, value)
    elif key in ("message-id", "in-reply-to", "references"):
        written = _ids(name, value)
    elif value.isascii() and value.isprintable() and len(name) + 2 + len(value) <= LINE:
        written = f"{name}: {value}"
    if written is None:
        return _by_email_package(name, value)
    return written.encode("ascii") + b"\r\n"


@lru_cache(maxsize=256)
def _by_email_package(name: str, value: str) -> bytes:
    """The field exactly as the email package's modern policy writes it (display names, unusual addresses); the
    same values recur (the office's From), so they are kept. Raises as EmailMessage did (a CR or LF in it)."""
    return _POLICY.fold_binary(*_POLICY.header_store_parse(name, value))


def _subject(value: str) -> str | None:
    if value.isascii() and value.isprintable() and "=?" not in value and len(value) + 9 <= LINE \
            and value == value.strip():
        return f"Subject: {value}"
    try:
        words = encoded_words(value, first=LINE - len("Subject: "))
    except UnicodeEncodeError:
        return None         # lone surrogates: the email package writes them as it always did
    return "Subject: " + "\r\n ".join(words)


def encoded_words(text: str, first: int = LINE - 1) -> list[str]:
    """`text` as RFC 2047 B-words of UTF-8, each a whole number of characters and at most 75 long; the first
    fits in `first` columns (what the field name leaves of a line), the rest on lines of their own."""
    words: list[str] = []
    chunk = bytearray()
    limit = min(_WORD_BYTES, (first - 12) // 4 * 3)
    for ch in text:
        b = ch.encode("utf-8")
        if chunk and len(chunk) + len(b) > limit:
            words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
            chunk = bytearray()
            limit = _WORD_BYTES
        chunk += b
    if chunk or not words:
        words.append(f"=?utf-8?b?{base64.b64encode(chunk).decode('ascii')}?=")
    return words


def _fold(name: str, items: list[str], sep: str) -> str | None:
    """`items` after `name: `, separated by `sep` (its blank is where a line may break), lines kept within LINE
    where an item allows it; None when an item could not stand on a line of its own."""
    if any(len(item) + len(sep) + 1 > MAX_LINE for item in items):
        return None
    lines = [f"{name}:"]
    for i, item in enumerate(items):
        piece = item + (sep.rstrip() if i < len(items) - 1 else "")
        if len(lines[-1]) + 1 + len(piece) <= LINE or (len(lines) == 1 and lines[0] == f"{name}:"
                                                         and 1 + len(piece) > LINE):
            lines[-1] += " " + piece        # it fits, or it would not fit on a line of its own either
        else:
            lines.append(" " + piece)
    return "\r\n".join(lines)


def _addresses(name: str, value: str) -> str | None:
    if value == "undisclosed-recipients:;":
        return f"{name}: {value}"
    items = value.split(", ")
    if not all(_SIMPLE_ADDRESS.fullmatch(a) for a in items):
        return None
    return _fold(name, items, ", ")


def _ids(name: str, value: str) -> str | None:
    items = value.split(" ")
    if not all(_SIMPLE_ID.fullmatch(i) for i in items):
        return None
    return _fold(name, items, " ")


# ---------------------------------------------------------------- bodies

# A part is a list of bytes, of (raw bytes, attachment index or None) for a base64 body left out, and of parts.

def _boundary(*parts) -> str:
    """A boundary in none of the parts' bytes; base64 bodies need no look: "=_" never occurs in base64."""
    written = [p for p in _flat(parts) if isinstance(p, bytes)]
    while True:
        b = "=_of" + secrets.token_hex(12)
        if not any(b.encode("ascii") in p for p in written):
            return b


def _flat(items):
    for item in items:
        if isinstance(item, list):
            yield from _flat(item)
        else:
            yield item


def _multipart(subtype: str, parts: list) -> list:
    b = _boundary(*parts)
    out: list = [f'Content-Type: multipart/{subtype}; boundary="{b}"\r\n\r\n--{b}\r\n'.encode("ascii")]
    for i, part in enumerate(parts):
        if i:
            out.append(f"\r\n--{b}\r\n".encode("ascii"))
        out.append(part)
    out.append(f"\r\n--{b}--\r\n".encode("ascii"))
    return out


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")      # lines of 76


def _text(subtype: str, text: str) -> list:
    """A UTF-8 text part: 7bit when it is short-lined ASCII, else base64 of its lines joined by LF (as the email
    package encodes them)."""
    lines = text.encode("utf-8").splitlines()
    head = f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: '.encode("ascii")
    if all(len(line) <= LINE and line.isascii() and b"\0" not in line for line in lines):
        return [head + b"7bit\r\n\r\n" + (b"".join(line + b"\r\n" for line in lines) or b"\r\n")]
    return [head + b"base64\r\n\r\n", (b"".join(line + b"\n" for line in lines), None)]


def _attachment_head(a) -> bytes:
    """An attachment's part up to its base64 body."""
    ctype = (a.content_type or "").lower()
    if not _CONTENT_TYPE.fullmatch(ctype):
        ctype = "application/octet-stream"
    return (f"Content-Type: {ctype}\r\nContent-Transfer-Encoding: base64\r\n"
            f"{disposition(a.name)}\r\n\r\n").encode("ascii")


def disposition(filename: str) -> str:
    """Content-Disposition: attachment with the file name, RFC 2231-encoded (percent-encoded UTF-8, in numbered
    sections where it is long) unless it is plain ASCII."""
    start = "Content-Disposition: attachment"
    if filename.isascii() and filename.isprintable() and not any(c in filename for c in '"\\') \
            and len(filename) + 14 <= MAX_LINE:
        param = f'filename="{filename}"'
        return f"{start}; {param}" if len(start) + 2 + len(param) <= LINE else f"{start};\r\n {param}"
    quoted = urllib.parse.quote(filename.encode("utf-8", "replace"), safe="")      # a lone surrogate: "?"
    single = f"filename*=utf-8''{quoted}"
    if len(start) + 2 + len(single) <= LINE:
        return f"{start}; {single}"
    if len(single) + 1 <= LINE:
        return f"{start};\r\n {single}"
    lines, pos, n = [f"{start};"], 0, 0
    while pos < len(quoted):
        prefix = f" filename*{n}*=" + ("utf-8''" if n == 0 else "")
        room = LINE - len(prefix) - 1
        end = _cut(quoted, pos, pos + room)
        lines.append(prefix + quoted[pos:end] + ";")
        pos, n = end, n + 1
    lines[-1] = lines[-1][:-1]
    return "\r\n".join(lines)


def _cut(quoted: str, start: int, end: int) -> int:
    """Where a section of a percent-encoded UTF-8 value from `start` ends at the latest: never inside a %XX, and
    never inside a character's bytes (some clients decode each section on its own)."""
    if end >= len(quoted):
        return len(quoted)
    if quoted[end - 1] == "%":
        end -= 1
    elif quoted[end - 2] == "%":
        end -= 2
    while end - 3 >= start and quoted[end] == "%" and int(quoted[end + 1:end + 3], 16) & 0xC0 == 0x80:
        end -= 3
    return end
