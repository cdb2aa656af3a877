"""Who sent a mail, as far as its headers can tell: the From rule (one plain mailbox, no other address shown)
and the office server's Authentication-Results; pure, table-driven and property tests."""

from __future__ import annotations

import base64

import pytest
from hypothesis import example, given, settings, strategies as st

from daemon import mime, trust


def b64(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


# (From header values as received, the address read, whether the sender is trusted)
FROM_CASES = [
    (["li@example.test"], "li@example.test", True),
    (["<li@example.test>"], "li@example.test", True),
    (["李副总 <li@example.test>"], "li@example.test", True),
    (['"李副总" <li@example.test>'], "li@example.test", True),
    ([f"{b64('李副总')} <li@example.test>"], "li@example.test", True),
    ([f'"{b64("周", "gb18030")}" <li@example.test>'], "li@example.test", True),      # QQ / Foxmail
    ([f"{b64('张三', 'gb2312')} <zs@unit1.test>"], "zs@unit1.test", True),
    (["John Q. Public <jqp@example.test>"], "jqp@example.test", True),                  # obsolete period
    (["li@example.test (李副总)"], "li@example.test", True),                             # comment, no address
    (['"Zhang, San" <zs@example.test>'], "zs@example.test", True),
    (["Li@EXAMPLE.Test"], "li@example.test", True),
    (['"li@example.test" <LI@example.test>'], "li@example.test", True),                 # the same address shown
    (["Amazon.co.jp@jmmlm.com <Amazon.co.jp@jmmlm.com>"], "amazon.co.jp@jmmlm.com", True),
    (["li@例子.测试"], "li@xn--fsqu00a.xn--0zwm56d", True),                             # IDN: its ASCII form
    (["李副总 <li@例子.测试>"], "li@xn--fsqu00a.xn--0zwm56d", True),
    # an address written as the display name, in every shape: the real (angle) address, never trusted
    (["li@example.test <unit2@example.test>"], "unit2@example.test", False),
    (['"li@example.test" <unit2@example.test>'], "unit2@example.test", False),
    (["'li@example.test' <unit2@example.test>"], "unit2@example.test", False),
    (['"李副总 li@example.test" <unit2@example.test>'], "unit2@example.test", False),
    (['"李副总<li@example.test>" <unit2@example.test>'], "unit2@example.test", False),
    ([f"{b64('li@example.test')} <unit2@example.test>"], "unit2@example.test", False),
    ([f'"{b64("李副总 <li@example.test>")}" <unit2@example.test>'], "unit2@example.test", False),
    ([f"{b64('li@example.test', 'gb18030')} <unit2@example.test>"], "unit2@example.test", False),
    (['"li＠example.test" <unit2@example.test>'], "unit2@example.test", False),          # full-width at sign
    (["unit2@example.test (li@example.test)"], "unit2@example.test", False),             # comment
    (['"LI@EXAMPLE.TEST" <unit2@example.test>'], "unit2@example.test", False),
    # more than one mailbox, groups, several From headers: nobody to trust, nobody to answer
    (["li@example.test, unit2@example.test"], "", False),
    (["李副总 <li@example.test>, unit2@example.test"], "", False),
    (["li@example.test", "unit2@example.test"], "", False),
    (["li@example.test", "li@example.test"], "", False),
    (["领导: li@example.test;"], "li@example.test", False),
    (["undisclosed-recipients:;"], "", False),
    # broken syntax
    (["li@example.test <unit2@example.test> 附言"], "unit2@example.test", False),
    (["<li@example.test"], "li@example.test", False),
    (["李副总"], "", False),
    (["unit2@example.test (li@example.test"], "unit2@example.test", False),
]


@pytest.mark.parametrize("values, address, trusted", FROM_CASES)
def test_the_sender_is_the_one_plain_mailbox_of_from(values, address, trusted):
    name, addr, doubt = mime.sender(values)
    assert addr == address
    assert (doubt == "") is trusted, doubt
    if not trusted:
        assert "li@example.test" not in addr or address == "li@example.test"


@pytest.mark.parametrize("value", ["李" * 5000 + " <unit2@example.test>", '"' + "a" * 5000 + '" <unit2@example.test>',
                                   "unit2@example.test, " * 2000])
def test_a_from_longer_than_any_persons_is_not_parsed_and_not_trusted(value):
    _, addr, doubt = mime.sender([value])
    assert doubt and addr in ("unit2@example.test", "")


def test_a_parsed_mail_carries_the_doubt_and_the_real_address():
    raw = (b"From: li@example.test <unit2@example.test>\r\nTo: office@example.test\r\n"
           b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\n\xe5\x90\x8c\xe6\x84\x8f\r\n")
    mail = mime.parse(raw)
    assert mail.from_addr == "unit2@example.test" and mail.from_doubt
    raw8 = "From: 李副总 <li@example.test>\r\nSubject: x\r\n\r\nok\r\n".encode("utf-8")     # raw 8-bit name
    mail = mime.parse(raw8)
    assert (mail.from_addr, mail.from_name, mail.from_doubt) == ("li@example.test", "李副总", "")


_local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=12).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum() and ".." not in s)
_domain = st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
                   min_size=2, max_size=3).map(".".join)
_addr = st.builds(lambda a, b: f"{a}@{b}", _local, _domain)
_name = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\@＠﹫'),
                max_size=12)


@settings(max_examples=300, deadline=None)
@given(name=_name, real=_addr, shown=_addr, quoted=st.booleans(), encoded=st.booleans(), case=st.booleans())
@example(name=":0>", real="0@0.0", shown="0@0.0", quoted=False, encoded=False, case=False)   # read as a group
def test_no_display_name_makes_another_address_the_sender(name, real, shown, quoted, encoded, case):
    """Whatever the name holds, the address read is the real one; an other address in the name is doubted."""
    display = f"{name} {shown.upper() if case else shown}".strip()
    if encoded:
        display = b64(display)
    value = f'"{display}" <{real}>' if quoted else f"{display} <{real}>"
    _, addr, doubt = mime.sender([value])
    assert addr in (real, "")
    if shown != real:
        assert doubt, value


@settings(max_examples=200, deadline=None)
@given(name=_name.filter(lambda s: "@" not in s and s.strip()), real=_addr)
def test_any_plain_quoted_name_is_trusted(name, real):
    _, addr, doubt = mime.sender([f'"{name}" <{real}>'])
    assert (addr, doubt) == (real, "")


@settings(max_examples=100, deadline=None)
@given(addrs=st.lists(_addr, min_size=2, max_size=4))
def test_several_mailboxes_are_never_one_sender(addrs):
    _, addr, doubt = mime.sender([", ".join(addrs)])
    assert addr == "" and doubt


# -- Authentication-Results (RFC 8601) --------------------------------------------------------------

ID = "mx.example.test"
# (headers, From address, vouched for)
AR_CASES = [
    ([f"{ID}; dmarc=pass header.from=example.test"], "li@example.test", True),
    ([f"{ID}; dmarc=pass"], "li@example.test", True),
    ([f"{ID}; dkim=pass header.d=example.test header.s=s1"], "li@example.test", True),
    ([f"{ID}; dkim=pass header.i=@example.test"], "li@example.test", True),
    ([f"{ID}; spf=pass smtp.mailfrom=li@example.test"], "li@example.test", True),
    ([f'{ID}; spf=pass smtp.mailfrom="li@example.test"'], "li@example.test", True),
    ([f"{ID} 1; dkim=pass (good signature) header.d=EXAMPLE.test; spf=none"], "li@example.test", True),
    (["MX.Example.Test;\r\n dmarc=pass (p=none dis=none) header.from=example.test"], "li@example.test", True),
    ([f"{ID}; dkim=pass header.d=例子.测试"], "li@xn--fsqu00a.xn--0zwm56d", True),
    # not for the From domain
    ([f"{ID}; dkim=pass header.d=evil.test"], "li@example.test", False),
    ([f"{ID}; spf=pass smtp.mailfrom=x@evil.test"], "li@example.test", False),
    ([f"{ID}; dmarc=pass header.from=evil.test"], "li@example.test", False),
    ([f"{ID}; dkim=pass header.d=sub.example.test"], "li@example.test", False),
    # not passing
    ([f"{ID}; dmarc=fail header.from=example.test"], "li@example.test", False),
    ([f"{ID}; dkim=fail header.d=example.test; spf=softfail smtp.mailfrom=li@example.test"], "li@example.test", False),
    ([f"{ID}; none"], "li@example.test", False),
    ([f"{ID}; dkim=neutral (pass) header.d=example.test"], "li@example.test", False),      # pass in a comment
    ([f"{ID}; dmarc=pass (comment; with) header.from=evil.test"], "li@example.test", False),
    # another server's word counts for nothing
    (["mx.evil.test; dmarc=pass header.from=example.test"], "li@example.test", False),
    ([f"{ID}.evil.test; dmarc=pass"], "li@example.test", False),
    ([f"x; dmarc=pass; {ID}; dmarc=pass"], "li@example.test", False),
    ([], "li@example.test", False),
    # a copy the sender wrote cannot outvote the server's own verdict
    ([f"{ID}; dmarc=fail header.from=example.test", f"{ID}; dmarc=pass header.from=example.test"],
     "li@example.test", False),
    ([f"{ID}; dmarc=pass header.from=example.test", f"{ID}; dmarc=fail header.from=example.test"],
     "li@example.test", False),
    ([f"{ID}; dmarc=fail", "mx.evil.test; dmarc=pass"], "li@example.test", False),
    ([f"{ID}; dkim=fail header.d=example.test", f"{ID}; spf=pass smtp.mailfrom=li@example.test"],
     "li@example.test", True),
]


@pytest.mark.parametrize("headers, sender, vouched", AR_CASES)
def test_only_the_office_servers_pass_for_the_from_domain_counts(headers, sender, vouched):
    why = trust.verdict(headers, ID, sender)
    assert (why == "") is vouched, why
    if not vouched:
        assert ID in why


def test_a_result_is_read_with_its_properties():
    serv, results = trust.parse("mx.example.test 1; dkim/1=pass (ok) header.d=example.test reason=\"x; y\"; "
                                "spf=fail smtp.mailfrom=a@b.test")
    assert serv == "mx.example.test"
    assert [(r.method, r.result) for r in results] == [("dkim", "pass"), ("spf", "fail")]
    assert results[0].props["header.d"] == "example.test"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_header_text_is_read_without_error_and_only_our_id_can_vouch(text):
    serv, _ = trust.parse(text)
    if serv != ID:
        assert trust.verdict([text], ID, "li@example.test") != ""
