"""Replies read per second over the shared corpus, against a raw email.message_from_bytes baseline."""

from __future__ import annotations

import email
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from daemon.mime import MailParseError, parse  # noqa: E402
from daemon.replies import read_reply  # noqa: E402

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


def main() -> None:
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
