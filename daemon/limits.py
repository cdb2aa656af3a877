"""What one mail may cost and how text taken from mail is cleaned before it is stored; pure, no I/O.

Every limit a hostile or broken mail could run into is named here, so that a reader finds them in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

MAX_TITLE = 200             # characters of a request's title; a longer one is cut with "…" (the archive keeps all)
MAX_NAME = 200              # characters of a sender's display name or an attachment's name
MAX_STORED_SUBJECT = 1000   # characters of a subject kept in the 收发记录 (the archived mail keeps all)
MAX_HEADER = 900            # characters of any header officeflow writes (RFC 5322 allows 998 a line)
MAX_REFERENCES = 50         # the newest Message-IDs of In-Reply-To/References that are looked up
MAX_ID_LENGTH = 500         # longer Message-IDs (seen in broken or hostile mail) are replaced or ignored
SQL_CHUNK = 200             # values in one IN (...) query: old SQLite allows 999 variables a statement

# C0 and C1 control characters except tab, line feed and carriage return
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` without control characters (they break the printable form and confuse mail clients)."""
    return _CONTROL.sub("", text) if text else text


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """`text` without what XML 1.0 cannot hold (control characters, lone surrogates): for the .docx form."""
    return _NOT_XML.sub("", text) if text else text


def clip(text: str, limit: int) -> str:
    """At most `limit` characters; a cut text ends with "…"."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def clip_middle(text: str, limit: int, tail: int = 60) -> str:
    """At most `limit` characters, cut in the middle so that the end (a code, a number) survives."""
    if len(text) <= limit:
        return text
    tail = min(tail, limit // 2)
    return text[: limit - tail - 1] + "…" + text[len(text) - tail:]


def chunks(values: Iterable, size: int = SQL_CHUNK) -> Iterator[list]:
    """`values` in lists of at most `size`, for IN (...) queries."""
    batch: list = []
    for v in values:
        batch.append(v)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
