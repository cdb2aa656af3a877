"""The clause grammar of 批示: every case of the table in the seven client styles people use, the properties
that keep a condition or a quote from ever making an approval, and the corpus."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from daemon import mime
from daemon.replies import SHAPE_LABELS, Offer, Verb, classify, read_reply
from lanes import examples, rotate
from tests.replies_cases import CASES as OLD_CASES, CLIENTS, build_mail
from tests.replies_grammar_cases import (APPROVALS, CANCELLING, CASES, CONDITIONS, HANDOVERS, NEVER_APPROVE,
                                         OPINIONS, PEOPLE, QUESTIONS)

APPROVE = {Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS}
# Outlook, Foxmail, QQ/Exmail, 163/NetEase (Mail Master), Apple/iPhone, Gmail/Android, Coremail
SEVEN = ["outlook", "foxmail", "qq", "mailmaster", "ios", "gmail", "coremail"]
_VARIANTS = [(False, "utf-8", False), (True, "gb2312", False), (True, "utf-8", True), (False, "gbk", False)]


def test_the_table_is_large_new_and_covers_every_class():
    old = {text for text, *_ in OLD_CASES}
    new = [text for text, *_ in CASES if text not in old]
    assert len(new) >= 400 and len(set(new)) == len(new)
    shapes = {shape for _, _, shape in CASES}
    assert shapes >= {"condition", "handover", "dissent", "defer", "plain_approve", "soft_reject", "agree_opinion",
                      "agree_opinion_unknown", "agree_dissent"}


@pytest.mark.parametrize("text,verb,shape", CASES, ids=[f"{i}:{c[0][:14]}" for i, c in enumerate(CASES)])
def test_case_in_the_seven_client_styles(text, verb, shape):
    failures = []
    for n, client in rotate(list(enumerate(SEVEN)), len(text), keep=2):
        has_html, charset, html_only = _VARIANTS[(n + len(text)) % 4]
        if has_html and CLIENTS[client][2] is None:
            has_html, html_only = False, False
        reply = read_reply(mime.parse(build_mail(client, text, html=has_html, charset=charset,
                                                 html_only=html_only)), opinions=OPINIONS)
        if reply.verb is not verb or (shape is not None and reply.shape != shape):
            failures.append(f"{client}/{charset}/{'html' if has_html else 'plain'}: {reply.verb.name}/{reply.shape}"
                            f" from {reply.new_text!r}")
        elif reply.new_text.strip() != text:
            failures.append(f"{client}: new text {reply.new_text!r}")    # the opinion is exactly what was written
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("text,target", [
    ("请王总定", "王总"), ("呈王总", "王总"), ("请赵秘书处理", "赵秘书"), ("请王总审定", "王总"), ("报王总审批", "王总"),
    ("由王总决定", "王总"), ("请李副总阅示", "李副总"), ("呈李副总阅", "李副总"), ("同意，报王总定", "王总"),
    ("同意，请李副总定夺", "李副总"), ("原则同意，呈王总阅示", "王总"), ("请王总同志审定", "王总"),
])
def test_a_transfer_in_natural_words_is_offered_with_its_person(text, target):
    reply = classify(text)
    assert reply.verb is Verb.UNKNOWN and reply.offer == Offer(Verb.TRANSFER, target), reply


@pytest.mark.parametrize("text,offer", [
    ("我赞成审计科的不同意见", Offer(Verb.REJECT)), ("同意审计科的不同意见", Offer(Verb.REJECT)),
    ("同意，但需重新报", Offer(Verb.RETURN)), ("同意倒是可以，不过要重新报一次", Offer(Verb.RETURN)),
    ("若资金能落实，可以同意", None), ("暂缓", None), ("同意吗？", None), ("同意李副总意见", None),
])
def test_the_offer_of_each_doubtful_shape(text, offer):
    reply = classify(text, opinions=OPINIONS)
    assert reply.verb is Verb.UNKNOWN and reply.offer == offer, reply


def test_agreeing_with_an_opinion_depends_on_that_opinion():
    assert classify("同意财务科意见", opinions={"财务科": "同意"}).verb is Verb.APPROVE
    assert classify("同意财务科意见", opinions={"财务科": "原则同意"}).verb is Verb.APPROVE
    assert classify("同意财务科意见", opinions={"财务科": "不同意"}).offer == Offer(Verb.REJECT)
    assert classify("同意财务科意见", opinions={}).verb is Verb.UNKNOWN            # he wrote none yet
    assert classify("同意财务科意见").verb is Verb.UNKNOWN                          # unknown: ask
    assert classify("同意拟办意见").verb is Verb.APPROVE                            # the office's own proposal


@pytest.mark.parametrize("text,opinion", [
    ("原则同意，但请控制在5万元以内。", "但请控制在5万元以内。"), ("批准了", ""), ("批准了，请办理。", "请办理。"),
    ("同意。请综合科抓紧办理。", "请综合科抓紧办理。"),
])
def test_no_fragment_of_the_decision_word_is_left_in_the_remainder(text, opinion):
    reply = classify(text)
    assert reply.opinion == opinion and reply.new_text == text


def test_placeholders_of_a_one_tap_answer_sent_unfilled_are_not_an_opinion():
    assert classify("不同意：（请写理由）").new_text == "不同意："
    assert classify("退回：（请写意见）").verb is Verb.RETURN and classify("退回：（请写意见）").opinion == ""


# ------------------------------------------------------------------------------------------ properties

FILLER = st.text(alphabet=list("资金预算采购设备方案程序会议材料价格年月日，。、 0123456789"), max_size=10)


@settings(max_examples=examples(500), deadline=None)
@given(a=st.sampled_from(APPROVALS), shape=st.sampled_from(CONDITIONS + CANCELLING + QUESTIONS + HANDOVERS),
       p=st.sampled_from(PEOPLE), opinion=FILLER, tail=st.sampled_from(["", "。", "！", "\n李明"]))
def test_a_condition_or_cancelling_clause_added_to_an_approval_never_approves(a, shape, p, opinion, tail):
    assert classify(a).verb in APPROVE                  # not vacuous: the core alone is an approval
    text = shape.format(a=a, p=p) + tail
    assert classify(text).verb not in APPROVE, text
    # with an ordinary opinion after the shape it is still no approval
    assert classify(text + "\n" + opinion).verb not in APPROVE, text


@settings(max_examples=examples(300), deadline=None)
@given(case=st.sampled_from(CASES + [(t, v, None) for t, v, _, _ in OLD_CASES if t]),
       client=st.sampled_from(sorted(CLIENTS)), variant=st.sampled_from(_VARIANTS))
def test_adding_a_quote_never_changes_the_decision(case, client, variant):
    text = case[0]
    has_html, charset, html_only = variant
    if has_html and CLIENTS[client][2] is None:
        has_html, html_only = False, False
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        charset = "utf-8"
    quoted = read_reply(mime.parse(build_mail(client, text, html=has_html, charset=charset, html_only=html_only)),
                        opinions=OPINIONS)
    bare = classify(text, opinions=OPINIONS)
    assert (quoted.verb, quoted.offer) == (bare.verb, bare.offer), (client, text)


# ------------------------------------------------------------------------------------------ corpus

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared mail corpus is not beside the repository")
def test_no_corpus_mail_with_a_shape_that_never_approves_reads_as_approval(corpus_parsed):
    """Every real Chinese-client mail with a never-approve shape written above its own text (and its quote,
    signature, charset) reads as no approval."""
    approvals, checked = [], 0
    for n, path in enumerate(sorted((CORPUS / "lkml-erofs-zh").glob("*.eml"))):
        mail = corpus_parsed[path]
        shape = NEVER_APPROVE[n % len(NEVER_APPROVE)]
        shaped = replace(mail, text=shape + "\n\n" + mail.text, html="")
        if read_reply(shaped).verb in APPROVE:
            approvals.append((path.name, shape))
        checked += 1
    assert checked > 500
    assert approvals == [], approvals


@pytest.mark.parametrize("client", SEVEN)
@pytest.mark.parametrize("signature", ["\n\n2026-03-02\nli@example.test", "\n\nli@example.test",
                                       "\n\n\n2026-03-02 09:31:05\n<li@example.test>\n"])
def test_a_date_and_address_signature_never_joins_the_opinion(client, signature):
    """Foxmail's default signature (the date, the sender's address) under the answer: the opinion stays exact."""
    text = "原则同意，但请控制在5万元以内。"
    reply = read_reply(mime.parse(build_mail(client, text + signature, html=False, charset="gbk")))
    assert reply.verb is Verb.APPROVE_WITH_CONDITIONS and reply.new_text == text, reply.new_text


def test_every_shape_that_holds_a_reply_back_has_a_label_for_the_record():
    held = {classify(text, opinions=OPINIONS).shape for text, verb, _ in CASES if verb is Verb.UNKNOWN}
    assert held - {""} <= set(SHAPE_LABELS), held - set(SHAPE_LABELS)
