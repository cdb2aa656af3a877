"""Property: a negation directly before 同意/批准 in an approving sentence never yields approval."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from daemon.replies import Lexicon, Verb, classify
from lanes import examples

NEGATIONS = ["不", "未", "不予", "暂不", "不能"]
APPROVING = [
    "{v}", "{v}。", "{v}，请财务科按规定办理。", "经研究，{v}。", "我{v}此方案。", "{v}按拟办意见办理。",
    "原则{v}，但金额须压缩。", "已阅，{v}。", "{v}！请抓紧落实。", "拟{v}。", "{v}\n李明", "完全{v}。",
]
# filler that cannot itself carry a verdict word or complete a phrase such as 不同意见
FILLER = st.text(alphabet=list("的一是在了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动"
                               "，。、；：！ 0123456789abcxyz\n"), max_size=12)
NOT_APPROVE = {Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS}


@settings(max_examples=examples(400), deadline=None)
@given(template=st.sampled_from(APPROVING), word=st.sampled_from(["同意", "批准"]), neg=st.sampled_from(NEGATIONS),
       before=FILLER, after=FILLER, lexicon=st.sampled_from([None, Lexicon(("好的", "ok", "行"))]))
def test_negation_before_the_verdict_never_approves(template, word, neg, before, after, lexicon):
    approving = before + template.format(v=word) + after
    negated = before + template.format(v=neg + word) + after
    assert classify(negated, lexicon=lexicon).verb not in NOT_APPROVE, negated
    assert classify(negated, "回复：同意", lexicon).verb not in NOT_APPROVE, negated
    # the sentence without the negation is still read, so the property is not vacuous
    assert classify(approving, lexicon=lexicon).verb in NOT_APPROVE | {Verb.UNKNOWN}


@settings(max_examples=examples(200), deadline=None)
@given(word=st.sampled_from(["同意", "批准"]), neg=st.sampled_from(NEGATIONS), spaces=st.sampled_from(["", " ", "\u3000"]))
def test_negation_survives_spacing(word, neg, spaces):
    text = spaces.join(neg + word) + "。"
    assert classify(text).verb is Verb.REJECT, text


def test_plain_approving_templates_are_approvals():
    # guards the property above against a reader that says UNKNOWN to everything
    for template in APPROVING:
        assert classify(template.format(v="同意")).verb in NOT_APPROVE, template
