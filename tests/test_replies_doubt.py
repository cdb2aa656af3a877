"""A refusal worded the way officials write it is never read as approval: when a negation stands anywhere
in the clause before 同意/批准 (or right after it), the reader asks instead of deciding."""

import pytest

from daemon.replies import Verb, classify

REFUSALS = [
    "不应当予以同意", "我不认为应该同意", "不认为可以批准", "我看不出有什么理由同意", "同意不了", "很难同意",
    "毋须同意", "恕难同意", "碍难同意", "我们认为此事不宜由公司批准", "此事没有必要批准",
    "I do not think we should approve this", "I would never, ever approve this", "I am unable to approve",
]
APPROVALS = [
    ("同意", Verb.APPROVE), ("非常同意。", Verb.APPROVE), ("经研究，同意", Verb.APPROVE),
    ("如无不妥，同意", Verb.APPROVE), ("没有不同意见", Verb.APPROVE), ("无不同意见，同意", Verb.APPROVE),
    ("原则同意，但不得超预算", Verb.APPROVE_WITH_CONDITIONS), ("No problem, approved", Verb.APPROVE),
    ("approved, no changes needed", Verb.APPROVE),
]


@pytest.mark.parametrize("text", REFUSALS)
def test_a_refusal_far_from_the_verb_is_never_approval(text):
    verb = classify(text).verb
    assert verb not in (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS), (text, verb)


@pytest.mark.parametrize("text, verb", APPROVALS)
def test_plain_approvals_still_approve(text, verb):
    assert classify(text).verb == verb
