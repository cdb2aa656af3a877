"""Benchmark of the 请示 check: precision and recall per rule over the samples, and checks per second.

Run from the repository root:  python3 bench/checks.py [--rounds N]

The speed baseline is a raw regex search (title, closing, date, contact) over the same texts in the
same run, so the ratio says what the parsing and the rule table cost on top of plain matching.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.checks import RULES, check  # noqa: E402
from daemon.doctext import extract_text  # noqa: E402
from tests.samples_qingshi import TODAY, available_forms, samples  # noqa: E402


class Settings:
    def __init__(self, require_signer: bool):
        self.disabled, self.severity, self.suggestions = (), {}, {}
        self.require_signer = require_signer


def variants(sample):
    """The sample as sent, and its body as a Windows client or an HTML-only mail would deliver it."""
    yield "as sent", sample.body
    if sample.form == "body":
        yield "CRLF + 全角缩进", "\r\n".join("\u3000\u3000" + line for line in sample.body.split("\n"))
        yield "blank lines doubled", sample.body.replace("\n", "\n\n")


def score(made) -> tuple[Counter, Counter, Counter, int]:
    tp, fp, fn = Counter(), Counter(), Counter()
    runs = 0
    for sample in made:
        for _, body in variants(sample):
            got = {f.rule for f in check(sample.subject, body, list(sample.attachments), TODAY,
                                         Settings(sample.require_signer)).findings}
            runs += 1
            for rule in got & sample.expected:
                tp[rule] += 1
            for rule in got - sample.expected:
                fp[rule] += 1
            for rule in sample.expected - got:
                fn[rule] += 1
    return tp, fp, fn, runs


RAW = [re.compile(p) for p in (r"关于.+的请示", r"妥否|当否|请批示|请批准", r"\d{4}年\d{1,2}月\d{1,2}日",
                               r"联系人.{0,6}电话", r"附件[:：]", r"(?m)[:：]\s*$")]


def raw_baseline(texts: list[str]) -> int:
    hits = 0
    for text in texts:
        hits += sum(1 for p in RAW if p.search(text))
    return hits


def rate(fn, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return rounds / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    forms = available_forms()
    made = samples(forms)
    print(f"samples: {len(made)} in forms {', '.join(forms)}")

    tp, fp, fn, runs = score(made)
    print(f"\nprecision and recall per rule ({runs} checks incl. reformatted bodies)")
    print(f"{'rule':<22}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>9}")
    for rule in RULES:
        p = tp[rule] / (tp[rule] + fp[rule]) if tp[rule] + fp[rule] else float("nan")
        r = tp[rule] / (tp[rule] + fn[rule]) if tp[rule] + fn[rule] else float("nan")
        print(f"{rule:<22}{tp[rule]:>5}{fp[rule]:>5}{fn[rule]:>5}{p:>11.2f}{r:>9.2f}")
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    print(f"{'all':<22}{total_tp:>5}{total_fp:>5}{total_fn:>5}"
          f"{total_tp / max(1, total_tp + total_fp):>11.2f}{total_tp / max(1, total_tp + total_fn):>9.2f}")

    # speed on the same texts: the 请示 text itself (body, or the extracted attachment)
    texts = []
    for sample in made:
        if sample.form == "body":
            texts.append(sample.body)
        else:
            texts.append(extract_text(*sample.attachments[0])[0] or "")
    body_samples = [s for s in made if s.form == "body"]
    plain = lambda: [check("请示", t, [], TODAY) for t in texts]  # noqa: E731
    baseline = lambda: raw_baseline(texts)  # noqa: E731
    full = lambda: [check(s.subject, s.body, list(s.attachments), TODAY) for s in made]  # noqa: E731
    bodies = lambda: [check(s.subject, s.body, list(s.attachments), TODAY) for s in body_samples]  # noqa: E731
    raw_rate = rate(baseline, args.rounds * 20) * len(texts)
    text_rate = rate(plain, args.rounds) * len(texts)
    body_rate = rate(bodies, args.rounds) * len(body_samples)
    full_rate = rate(full, max(1, args.rounds // 5)) * len(made)
    print("\nspeed")
    print(f"  raw regex search (baseline)      {raw_rate:>10.0f} texts/s")
    print(f"  check() on the same texts        {text_rate:>10.0f} checks/s   ratio to baseline {text_rate / raw_rate:.3f}")
    print(f"  check() on mail-body samples     {body_rate:>10.0f} checks/s")
    print(f"  check() incl. reading .docx/.pdf {full_rate:>10.0f} checks/s   ratio to baseline {full_rate / raw_rate:.4f}")
    return 0 if total_fp == 0 and total_fn == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
