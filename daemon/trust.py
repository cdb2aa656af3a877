"""What the office's own mail server vouches for: Authentication-Results (RFC 8601) read for one authserv-id.

Pure: no database, no network. Headers of any other authserv-id are ignored (anyone can write them); the
server named in the config must remove such headers with its own id from incoming mail (RFC 8601 §5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from daemon.mime import normal_address

MAX_HEADERS = 50          # more Authentication-Results than a real path adds: only the first are read
MAX_LENGTH = 4000         # characters of one header read


@dataclass(frozen=True)
class Result:
    method: str                               # dkim, spf, dmarc, …
    result: str                               # pass, fail, none, …
    props: dict[str, str] = field(default_factory=dict)   # "header.d" → "example.com"


def _strip_comments(text: str) -> str:
    """CFWS comments "(…)" (nested, with quoted pairs) removed; quoted strings kept whole."""
    out, depth, quoted, escaped = [], 0, False, False
    for ch in text[:MAX_LENGTH]:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
            continue
        if quoted:
            out.append(ch)
            quoted = ch != '"'
            continue
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
            quoted = ch == '"'
    return "".join(out)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


_ASSIGN = re.compile(r'([A-Za-z0-9._/-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]*)')


def parse(value: str) -> tuple[str, list[Result]]:
    """(authserv-id in lower case, results) of one Authentication-Results header; ("", []) when unreadable."""
    parts = _strip_comments(re.sub(r"\r?\n[ \t]*", " ", value)).split(";")
    head = parts[0].split()
    if not head:
        return "", []
    results = []
    for part in parts[1:]:
        pairs = _ASSIGN.findall(part)
        if not pairs:
            continue
        method, result = pairs[0]
        method = method.split("/", 1)[0].lower()      # "dkim/1" → dkim
        if "." in method or method == "reason":
            continue
        props = {k.lower(): _unquote(v) for k, v in pairs[1:] if "." in k}
        results.append(Result(method, _unquote(result).lower(), props))
    return head[0].lower().rstrip("."), results


def _domain(value: str) -> str:
    """The domain of "user@d", "@d" or "d", normalised as From addresses are."""
    return normal_address("x@" + value.rpartition("@")[2]).rpartition("@")[2] if value else ""


def _about(r: Result, domain: str) -> bool:
    """The result speaks of the From domain (header.d / header.i for DKIM, smtp.mailfrom / smtp.helo for
    SPF, header.from for DMARC, which may leave it out since DMARC is about the From domain by definition)."""
    if r.method == "dkim":
        keys = ("header.d", "header.i")
    elif r.method == "spf":
        keys = ("smtp.mailfrom", "header.from")
    elif r.method == "dmarc":
        if "header.from" not in r.props:
            return True
        keys = ("header.from",)
    else:
        return False
    return any(_domain(r.props[k]) == domain for k in keys if k in r.props)


def verdict(headers: list[str], authserv_id: str, from_addr: str) -> str:
    """"" when the server `authserv_id` vouches for the From domain (dmarc=pass, or dkim=pass / spf=pass
    for that domain); else why not, in Chinese for the record and the answer.

    Where the server's headers disagree on a method for the domain (one says pass, another fail), that
    method does not pass: a copy written by the sender cannot outvote the server's own.
    """
    wanted = authserv_id.strip().lower().rstrip(".")
    domain = from_addr.rpartition("@")[2]
    results = []
    for value in headers[:MAX_HEADERS]:
        serv, found = parse(value)
        if serv == wanted:
            results.extend(found)
    if not results:
        return f"邮件服务器（{authserv_id}）未对该邮件作发件人验证"
    for method in ("dmarc", "dkim", "spf"):
        mine = [r.result for r in results if r.method == method and _about(r, domain)]
        if mine and all(x == "pass" for x in mine):
            return ""
    shown = "，".join(f"{r.method}={r.result}" for r in results if r.method in ("dmarc", "dkim", "spf")) or "无结果"
    return f"邮件服务器（{authserv_id}）未能验证该邮件确由{domain or '发件人'}发出（{shown}）"
