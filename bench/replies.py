"""Replies read per second over the shared corpus, against a raw email.message_from_bytes baseline; and how the
reader decides the table of 批示 (tests/replies_grammar_cases.py) beside a naive keyword rule on the same table:
right, false approvals, questions asked."""

from __future__ import annotations

import email
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.mime import MailParseError, parse  # noqa: E402
from daemon.replies import Verb, classify, read_reply  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


def _load() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.name != "SOURCES.md"]


def _rate(fn, mails: list[bytes], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in mails:
            fn(raw)
        best = min(best, time.perf_counter() - start)
    return len(mails) / best


def _baseline(raw: bytes) -> None:
    msg = email.message_from_bytes(raw)
    for part in msg.walk():
        part.get_payload(decode=True)


def _ours(raw: bytes) -> None:
    try:
        read_reply(parse(raw))
    except MailParseError:
        pass


def _naive(text: str) -> Verb:
    """The keyword rule the reader replaces: a rejection word first, then an approval word, else ask."""
    if any(w in text for w in ("不同意", "不批准", "驳回", "否决")):
        return Verb.REJECT
    if any(w in text for w in ("同意", "批准", "可以", "准予")):
        return Verb.APPROVE
    return Verb.UNKNOWN


def table() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from replies_grammar_cases import CASES, OPINIONS
    approve = {Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS}
    print(f"table: {len(CASES)} 批示 (tests/replies_grammar_cases.py)")
    print(f"{'':26}{'right':>8}{'false approvals':>18}{'questions':>11}")
    for name, read in (("naive keyword rule", lambda t: _naive(t)),
                       ("replies.classify", lambda t: classify(t, opinions=OPINIONS).verb)):
        right = false = asked = 0
        for text, verb, _ in CASES:
            got = read(text)
            if got is verb or (got in approve and verb in approve):
                right += 1
            elif got in approve:
                false += 1
            asked += got is Verb.UNKNOWN
        print(f"{name:26}{right:8d}{false:18d}{asked:11d}")


def main() -> None:
    table()
    if not CORPUS.is_dir():
        sys.exit("the shared mail corpus is not beside the repository")
    mails = _load()
    rounds = 3
    base = _rate(_baseline, mails, rounds)
    parsed = _rate(lambda raw: _ours_parse(raw), mails, rounds)
    ours = _rate(_ours, mails, rounds)
    print(f"corpus: {len(mails)} files, {sum(map(len, mails)) / 1e6:.1f} MB, best of {rounds} rounds")
    print(f"baseline email.message_from_bytes + decode: {base:9.0f} mails/s")
    print(f"mime.parse:                                 {parsed:9.0f} mails/s  ({parsed / base:.2f}x baseline)")
    print(f"mime.parse + replies.read_reply:            {ours:9.0f} mails/s  ({ours / base:.2f}x baseline)")


def _ours_parse(raw: bytes) -> None:
    try:
        parse(raw)
    except MailParseError:
        pass


if __name__ == "__main__":
    main()
