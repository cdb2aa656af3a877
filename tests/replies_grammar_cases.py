"""批示 the way leaders write them, by clause kind: what the reader must make of each, and the shapes that must
never read as approval (conditions, cancelling or deferring continuations, handovers, dissent as object,
questions). Used by the table test, the property tests and the benchmark."""

from __future__ import annotations

from daemon.replies import Verb

A, C, R, T, U, X = (Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT, Verb.RETURN, Verb.UNKNOWN,
                    Verb.TRANSFER)

# the approving cores every shape below is built around
APPROVALS = ["同意", "可以同意", "批准", "原则同意", "准予", "同意此事", "拟同意", "我同意"]

# a condition before the decision: nobody checked it, so no decision the office can carry out
CONDITIONS = [
    "若资金能落实，{a}", "如果预算允许，{a}", "假如财务科没有意见，{a}", "倘若程序合规，{a}", "要是价格合适，{a}",
    "只要不超预算，{a}", "在确保安全的前提下{a}", "在资金到位的情况下{a}", "待审计完成后{a}", "等比价结束后{a}",
    "如资金到位则{a}", "如能压缩到5万元以内，{a}", "在不超预算的前提下，{a}", "视资金情况，{a}",
    "在履行比价程序的条件下{a}", "若审计科无异议，{a}",
]
# what follows the decision and takes it back: do it again, later, or not yet
CANCELLING = [
    "{a}，不过要重新报一次", "{a}，但需重新报", "{a}，但要另行请示", "{a}，年后再说", "{a}，暂缓执行",
    "{a}，先放一放", "{a}，等开完会再议", "{a}，此事再研究", "{a}，但先不办", "{a}，请重新打报告",
    "{a}，但要重新上报集团", "{a}。不过此事以后再说", "{a}，但暂不实施", "{a}，具体另行研究",
]
# what follows the decision and hands it to someone else
HANDOVERS = [
    "{a}，报{p}定", "{a}，请{p}定夺", "{a}，由{p}决定", "{a}，呈{p}阅示", "{a}，请{p}审定", "{a}，请{p}拍板",
]
PEOPLE = ["王总", "李副总"]
# a question anywhere in the decision
QUESTIONS = [
    "{a}吗？", "{a}？", "是否{a}？", "{a}，但预算够吗？", "{a}，不过这个价格合适吗？", "{a}与否，等开完会再说",
    "要{a}的话，先把预算做细", "{a}的话请先补材料",
]

CASES: list[tuple[str, Verb, str | None]] = []    # (new text, verb, shape or None when not checked)

for _a in APPROVALS:
    CASES += [(c.format(a=_a), U, "condition") for c in CONDITIONS]
    CASES += [(c.format(a=_a), U, None) for c in CANCELLING]
    CASES += [(c.format(a=_a), U, None) for c in QUESTIONS]
for _a in APPROVALS[:4]:
    CASES += [(h.format(a=_a, p=p), U, "handover") for h in HANDOVERS for p in PEOPLE]

# agreeing with a dissent: the object of the agreement is a rejection
DISSENT = [
    ("我赞成审计科的不同意见", U, "dissent"), ("同意审计科的不同意见", U, "dissent"),
    ("赞同财务科的不同意见。", U, "dissent"), ("同意财务科提出的异议", U, "dissent"),
    ("我同意审计科的保留意见", U, "dissent"), ("认同财务科的否定意见", U, "dissent"),
    ("同意审计科的反对意见", U, "dissent"), ("支持审计科的不同意见。", U, "dissent"),
    ("附议审计科的不同看法", U, "dissent"), ("我赞同财务科的不同意见，此事缓办", U, "dissent"),
    ("赞同财务科的反对意见", R, None), ("支持审计科的反对意见", R, None),
    ("我不赞成审计科的不同意见", U, None), ("不同意财务科的反对意见", U, None),
]
# transfers in natural words: proposed, never applied as they stand
TRANSFERS = [
    ("请王总定", U, "handover"), ("呈王总", U, "handover"), ("请赵秘书处理", U, "handover"),
    ("请王总审定", U, "handover"), ("报王总审批", U, "handover"), ("由王总决定", U, "handover"),
    ("请李副总阅示", U, "handover"), ("呈李副总阅", U, "handover"), ("王总定吧", U, "handover"),
    ("请王总定夺。", U, "handover"), ("呈王总阅示。", U, "handover"), ("请王总批示", U, "handover"),
    ("阅，请王总定", U, "handover"), ("已阅，呈王总。", U, "handover"), ("请财务科处理", U, "handover"),
    ("请王总签批", U, "handover"), ("提请王总审定", U, "handover"), ("报请王总审批", U, "handover"),
]
# deferrals: never approval; the question says what was understood
DEFERRALS = [
    ("缓议", U, "defer"), ("暂缓", U, "defer"), ("再议", U, "defer"), ("另行研究", U, "defer"),
    ("年后再说", U, "defer"), ("以后再说", U, "defer"), ("放一放再说", U, "defer"), ("研究后再定", U, "defer"),
    ("此事暂缓。", U, "defer"), ("缓议。", U, "defer"), ("节后再议", U, "defer"), ("先放一放", U, "defer"),
    ("暂缓，等预算批下来", U, "defer"), ("此事押后", U, "defer"), ("推迟到明年", U, "defer"),
    ("阅，缓议", U, "defer"), ("已阅，再议。", U, "defer"), ("明年再说", U, "defer"),
]
# the plain vocabulary of 批示, read as approval where the meaning is certain
PLAIN = [
    ("如拟", A, "plain_approve"), ("如拟。", A, "plain_approve"), ("如拟办理", A, "plain_approve"),
    ("如拟办理。", A, "plain_approve"), ("阅，如拟", A, "plain_approve"), ("已阅，如拟。", A, "plain_approve"),
    ("如拟执行", A, "plain_approve"), ("可", A, "plain_approve"), ("可。", A, "plain_approve"),
    ("阅，可", A, "plain_approve"), ("已阅，可。", A, "plain_approve"), ("准", A, "plain_approve"),
    ("准。", A, "plain_approve"), ("核准", A, None), ("核准。", A, None), ("同意拟办意见", A, None),
    ("同意拟办意见。", A, None), ("按拟办意见办理", A, None), ("按拟办意见办", A, None),
    ("照拟", A, "plain_approve"), ("可行", A, "plain_approve"), ("同意办公室意见", A, None),
    ("同意拟办人意见。", A, None), ("如拟，请抓紧落实。", A, "plain_approve"), ("可，请财务科办理", A, "plain_approve"),
    ("准，按程序采购", A, "plain_approve"), ("核准，请综合科落实。", A, None), ("照此办理", A, "plain_approve"),
    ("同意财务科意见", A, "agree_opinion"), ("同意财务科的意见。", A, "agree_opinion"),
    ("同意审计科意见", U, "agree_dissent"), ("同意李副总意见", U, "agree_opinion_unknown"),
    ("按财务科意见办理", A, "agree_opinion"), ("不予核准", R, None),
]
# soft rejections
SOFT = [
    ("不宜", R, "soft_reject"), ("不宜。", R, "soft_reject"), ("不妥", R, "soft_reject"), ("不妥。", R, "soft_reject"),
    ("此事不宜", R, "soft_reject"), ("此事不宜。", R, "soft_reject"), ("不可", R, "soft_reject"),
    ("不可。", R, "soft_reject"), ("不予考虑", R, None), ("不予考虑。", R, None), ("不予支持", R, None),
    ("不予支持。", R, None), ("此事不办", R, "soft_reject"), ("此事不办。", R, "soft_reject"),
    ("不能批", R, "soft_reject"), ("不能批。", R, "soft_reject"), ("駁回", R, None), ("駁回。", R, None),
    ("驳回", R, None), ("不宜办理", R, "soft_reject"), ("此事暂不宜", R, "soft_reject"), ("该项不妥", R, "soft_reject"),
    ("阅，不宜", R, "soft_reject"), ("已阅，不妥。", R, "soft_reject"), ("不宜开展", R, "soft_reject"),
    ("不宜拖延，同意", A, None), ("不妥之处请修改，同意", A, None),   # the soft word is not the decision here
]
CONFIRMS = [("是", Verb.CONFIRM, None), ("是的", Verb.CONFIRM, None), ("对", Verb.CONFIRM, None),
            ("确认", Verb.CONFIRM, None), ("是。", Verb.CONFIRM, None), ("对的", Verb.CONFIRM, None),
            ("确定", Verb.CONFIRM, None), ("是，确认", Verb.CONFIRM, None)]
# verbatim opinions: what the person wrote stays, with its punctuation
VERBATIM = [
    ("原则同意，但请控制在5万元以内。", C, None), ("批准了", A, None), ("同意。请综合科抓紧办理。", A, None),
    ("同意，如有问题及时报告。", A, None), ("如无不妥，同意", A, None), ("同意，报集团备案。", A, None),
]
# shapes written without the usual punctuation or with the decider named another way
MORE = [
    ("同意报王总定", U, "handover"), ("原则同意，具体等王总定", U, "handover"), ("我个人同意，但要王总点头", U, "handover"),
    ("同意，但需王总同意", U, "handover"), ("等王总定", U, "handover"), ("同意，请财务科审核后报李副总审批", U, "handover"),
    ("同意。此事须报集团批准后实施", U, "handover"), ("可以，不过要先请示集团", U, "resubmit"),
    ("同意，等资金到位后再办", U, "condition"), ("同意，待资金到位后实施", U, "condition"),
    ("暂缓同意", U, "defer"), ("同意重新报", U, "resubmit"), ("同意，但要报董事会研究", U, "handover"),
    ("同意，最终由王总决定", U, "handover"), ("同意，由综合科负责落实", A, None), ("同意，请综合科抓紧落实。", A, None),
]
CASES += MORE + DISSENT + TRANSFERS + DEFERRALS + PLAIN + SOFT + CONFIRMS + VERBATIM

# the prior opinions on the form the table is read against (同意X意见)
OPINIONS = {"张明": "拟办", "财务科": "同意", "审计科": "不同意"}

# the shapes that must never be an approval (for the properties and the corpus)
NEVER_APPROVE = [t for t, v, _ in CASES if v is not A and v is not C]
