"""The two lanes of the test suite: the full one (CI, `scripts/test.sh`) and the fast one (`--fast`).

The fast lane leaves out the tests that need a mail server or that start LibreOffice or reader children
(marked `mailserver` and `slow`, see conftest.py) and runs the property tests with a tenth of their
examples. Every test still runs, with all its examples, in the full lane.
"""

from __future__ import annotations

FAST = False        # set by conftest.py from the --fast option before any test module is imported


def examples(n: int) -> int:
    """Hypothesis examples for a property test that runs `n` in the full lane."""
    return max(10, n // 10) if FAST else n


def rotate(items: list, start: int, keep: int) -> list:
    """All of `items` in the full lane; in the fast one `keep` of them from `start` on (wrapping), so a table
    test whose cases start at different places still meets every item, each case fewer."""
    if not FAST or keep >= len(items):
        return list(items)
    return [items[(start + i) % len(items)] for i in range(keep)]
