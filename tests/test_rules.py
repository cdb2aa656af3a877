"""The decision table, pure: who may do what in which state, which check each row needs, and who is who."""

from __future__ import annotations

import itertools
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon import rules, workflow
from daemon.cli import main
from daemon.config import load_config
from daemon.directory import Directory
from daemon.models import APPROVED, APPROVING, DONE, REJECTED, RETURNED, REVIEWING, WITHDRAWN
from daemon.replies import Verb
from daemon.rules import Role

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "officeflow.example.toml"
STATES = (REVIEWING, RETURNED, APPROVING, APPROVED, DONE, REJECTED, WITHDRAWN)


def handler(state, role, verb):
    """The first row's handler for these, skipping the 查询 row (it needs 查询 written, checked at run time)."""
    rows = [r for r in rules.candidates(state, (role,), verb) if r.needs is not rules.QUERY]
    return (rows[0].apply.__name__, rows[0].needs) if rows else None


# one case a row: (state, role, verb) -> (handler, what it needs)
ROWS = [
    (REVIEWING, Role.STAFF, Verb.APPROVE, "_accept_approval", rules.REVIEW_CODE),
    (APPROVING, Role.HEAD, Verb.REMIND, "_remind", rules.ANY_MAIL),
    (REVIEWING, Role.STAFF, Verb.ACCEPT, "_accept", rules.REVIEW_CODE),
    (REVIEWING, Role.HEAD, Verb.RETURN, "_return_to_unit", rules.REVIEW_CODE),
    (APPROVING, Role.STAFF, Verb.ACCEPT, "_late_review", rules.ANSWERS_REVIEW),
    (APPROVING, Role.APPROVER, Verb.REJECT, "_decide", rules.SIGNER_CODE),
    (APPROVING, Role.DELEGATE, Verb.UNKNOWN, "_ask", rules.SIGNER_CODE),
    (APPROVING, Role.APPROVER, Verb.CONFIRM, "_confirm", rules.SIGNER_CODE),
    (DONE, Role.UNIT, Verb.WITHDRAW, "_withdraw", rules.ANY_MAIL_OR_CODE),
    (RETURNED, Role.UNIT, Verb.UNKNOWN, "_resubmit", rules.REVISED),
    (WITHDRAWN, Role.UNIT, Verb.UNKNOWN, "_new_request", rules.NEW_DOCUMENT),
    (APPROVING, Role.UNIT, Verb.APPROVE, "_pass_on", rules.NONE),
    (APPROVED, Role.EXECUTOR, Verb.DONE, "_report_done", rules.DONE_CODE),
]


@pytest.mark.parametrize("state,role,verb,name,needs", ROWS)
def test_each_row_of_the_table_is_found_for_its_state_role_and_verb(state, role, verb, name, needs):
    assert handler(state, role, verb) == (name, needs)


def test_every_row_of_the_table_has_a_case_above():
    names = {r.apply.__name__ for r in rules.TABLE if r.needs is not rules.QUERY}
    assert names == {case[3] for case in ROWS}


def test_the_query_row_comes_first_and_fits_everyone():
    for state, role, verb in itertools.product(STATES, Role, Verb):
        assert rules.candidates(state, (role,), verb)[0].needs is rules.QUERY


def test_a_stranger_may_only_ask_for_status():
    for state, verb in itertools.product(STATES, Verb):
        assert handler(state, Role.STRANGER, verb) is None


@pytest.mark.parametrize("state", [s for s in STATES if s != APPROVING])
def test_an_approver_decides_nothing_outside_approval(state):
    for verb in (Verb.APPROVE, Verb.REJECT, Verb.RETURN, Verb.TRANSFER, Verb.UNKNOWN, Verb.CONFIRM):
        assert handler(state, Role.APPROVER, verb) is None


@pytest.mark.parametrize("verb", [Verb.APPROVE, Verb.APPROVE_WITH_CONDITIONS, Verb.REJECT, Verb.RETURN,
                                  Verb.TRANSFER, Verb.ADD_SIGNER])
def test_every_step_decision_needs_the_signers_own_code(verb):
    assert handler(APPROVING, Role.APPROVER, verb) == ("_decide", rules.SIGNER_CODE)
    assert handler(APPROVING, Role.DELEGATE, verb) == ("_decide", rules.SIGNER_CODE)


def test_office_staff_cannot_approve_a_step_as_staff():
    assert handler(APPROVING, Role.STAFF, Verb.APPROVE) is None
    assert handler(APPROVING, Role.STAFF, Verb.REJECT) is None


def test_reminding_is_only_for_open_requests():
    for state in (APPROVED, DONE, REJECTED, WITHDRAWN):
        assert handler(state, Role.STAFF, Verb.REMIND) is None


def test_the_done_report_needs_the_executing_unit_of_an_approved_request():
    assert handler(APPROVED, Role.UNIT, Verb.DONE) is None
    assert handler(APPROVING, Role.EXECUTOR, Verb.DONE) is None
    assert handler(APPROVED, Role.STAFF, Verb.DONE) is None


def test_a_unit_passes_anything_on_while_open_but_withdraws_first():
    for state in (REVIEWING, APPROVING):
        assert handler(state, Role.UNIT, Verb.ACCEPT)[0] == "_pass_on"
        assert handler(state, Role.UNIT, Verb.WITHDRAW)[0] == "_withdraw"
    assert handler(APPROVED, Role.UNIT, Verb.UNKNOWN) is None


def test_with_several_roles_the_rows_keep_table_order():
    rows = rules.candidates(APPROVING, (Role.STAFF, Role.APPROVER), Verb.RETURN)
    assert [r.apply.__name__ for r in rows] == ["_query", "_late_review", "_decide"]


# -- applying: first passing check wins, a check with a refusal refuses ---------------------------------------

def _act(verb=Verb.UNKNOWN, state=APPROVING, **pipe):
    return rules.Act(SimpleNamespace(**pipe), SimpleNamespace(state=state), None, SimpleNamespace(verb=verb))


def test_apply_takes_the_first_row_whose_check_passes():
    done = []
    table = (rules.Transition(None, None, None, rules.Check("no", lambda a: False), lambda a, v: done.append(1)),
             rules.Transition(None, None, None, rules.NONE, lambda a, v: done.append(v)))
    assert rules.apply(_act(Verb.REJECT), (Role.STAFF,), table) is True
    assert done == [Verb.REJECT]


def test_apply_says_when_no_row_applies():
    table = (rules.Transition((DONE,), None, None, rules.NONE, lambda a, v: None),)
    assert rules.apply(_act(), (Role.STAFF,), table) is False


def test_a_failed_check_with_a_refusal_refuses():
    table = (rules.Transition(None, None, None, rules.ANY_MAIL, lambda a, v: None),
             rules.Transition(None, None, None, rules.NONE, lambda a, v: pytest.fail("tried on")))
    with pytest.raises(workflow.Refused, match="催办请直接回复"):
        rules.apply(_act(), (Role.STAFF,), table)


@pytest.mark.parametrize("kind,attachments,title,revised", [
    ("returned", [], None, True), ("receipt", [], None, False), ("receipt", ["x"], None, True),
    ("receipt", [], "关于购置打印机的请示", True)])
def test_a_revision_answers_the_returned_mail_or_brings_a_document(kind, attachments, title, revised):
    act = rules.Act(SimpleNamespace(mail=SimpleNamespace(attachments=attachments),
                                    check=SimpleNamespace(title=title)),
                    None, SimpleNamespace(kind=kind), None)
    assert rules.REVISED.test(act) is revised


def test_the_signer_check_names_the_principal_only_when_the_sender_acts_for_an_unsigned_signer():
    step = SimpleNamespace(signed=["li@example.test"])
    def act(principal, acts=True):
        pipe = SimpleNamespace(mail=SimpleNamespace(from_addr="zhao@example.test"),
                               signer=lambda s, r: principal, acts_for=lambda s, p: acts)
        return rules.Act(pipe, None, None, None, step)
    a = act("wang@example.test")
    assert rules.SIGNER_CODE.test(a) and a.principal == "wang@example.test"
    assert not rules.SIGNER_CODE.test(act("li@example.test"))
    assert not rules.SIGNER_CODE.test(act(None))
    assert not rules.SIGNER_CODE.test(act("wang@example.test", acts=False))
    assert not rules.SIGNER_CODE.test(rules.Act(None, None, None, None, None))


# -- who is who -------------------------------------------------------------------------------------------

@pytest.fixture
def directory(monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_IMAP_PASSWORD", "x")
    monkeypatch.setenv("OFFICEFLOW_SMTP_PASSWORD", "x")
    return Directory(load_config(EXAMPLE))


REQ = SimpleNamespace(sender="a@unit1.example.test", unit_id="unit1", execute=["zonghe@example.test"])
STEP = SimpleNamespace(approvers=["li@example.test", "caiwu@example.test"])


@pytest.mark.parametrize("sender,step,roles", [
    ("clerk@example.test", STEP, (Role.STAFF,)),
    ("director@example.test", None, (Role.HEAD,)),
    ("li@example.test", STEP, (Role.APPROVER,)),
    ("li@example.test", None, (Role.STRANGER,)),
    ("zhao@example.test", STEP, (Role.DELEGATE,)),
    ("a@unit1.example.test", STEP, (Role.UNIT,)),
    ("b@unit1.example.test", STEP, (Role.UNIT,)),
    ("unit2@example.test", STEP, (Role.STRANGER,)),
    ("zonghe@example.test", STEP, (Role.EXECUTOR,)),
    ("WANG@example.test", SimpleNamespace(approvers=["wang@example.test"]), (Role.APPROVER,)),
    ("nobody@elsewhere.test", STEP, (Role.STRANGER,)),
])
def test_role_of(directory, sender, step, roles):
    assert rules.role_of(directory, sender, REQ, step) == roles


def test_role_of_gives_every_role_a_person_holds(directory):
    req = SimpleNamespace(sender="x@unit2.test", unit_id=None, execute=["li@example.test"])
    assert rules.role_of(directory, "li@example.test", req, STEP) == (Role.APPROVER, Role.EXECUTOR)


def test_an_executing_unit_is_any_address_of_it(directory):
    req = SimpleNamespace(sender="x@unit2.test", unit_id=None, execute=["unit1@example.test"])
    assert rules.role_of(directory, "c@unit1.example.test", req, None) == (Role.EXECUTOR,)


# -- the listing --------------------------------------------------------------------------------------------

def test_officeflow_rules_lists_every_row_in_order(capsys):
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    from daemon import flows
    assert out.count("结果：") == sum(len(f.table) for f in flows.FLOWS.values())
    assert out.index("【请示】") < out.index("【交办】")
    assert out.index("受理，送审批") < out.index("本环节的审批意见") < out.index("办结回告，本件办结")
    assert "本人（或被代理人）在本环节的流转码" in out and "执行部门" in out
