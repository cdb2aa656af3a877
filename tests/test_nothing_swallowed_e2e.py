"""End to end on real Dovecot + SMTP relay: mail that looks like something else is still handled — a title
about holidays, a reused Message-ID, an answer to a busy approver, a classified mark in an attached file."""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from flow import GOOD_BODY, crlf, docx_bytes

pytestmark = pytest.mark.mailserver


def _number(subject: str) -> str:
    m = re.search(r"【(.+?)】", subject)
    assert m, subject
    return m.group(1)


def _request(office, who: str, subject: str, body: str, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = office.addr[who]
    msg["To"] = office.addr["office"]
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return crlf(msg)


def test_a_different_request_reusing_a_message_id_is_registered_and_a_true_duplicate_is_not(office):
    shared = f"<same-id@{office.domain}>"
    first = _request(office, "unit1", "关于购置办公设备的请示", GOOD_BODY, shared)
    second = _request(office, "unit2", "关于增加培训经费的请示",
                      GOOD_BODY.replace("购置办公设备", "增加培训经费").replace("第一分公司", "第二分公司"), shared)
    office.servers.send(first, [office.addr["office"]], office.addr["unit1"])
    office.run_once()
    delivered = office.servers.messages(office.addr["office"], "Processed")
    assert len(delivered) == 1
    office.servers.send(second, [office.addr["office"]], office.addr["unit2"])
    office.servers.append(office.addr["office"], delivered[0])    # the very same mail comes back
    office.run_once()

    db = office.db()
    assert sorted((r.sender, r.title) for r in db.Request.select()) == [
        (office.addr["unit1"], "关于购置办公设备的请示"), (office.addr["unit2"], "关于增加培训经费的请示")]
    assert len(office.inbox("unit1")) == 1 and len(office.inbox("unit2")) == 1
    assert "培训经费" in office.last("unit2").subject + office.last("unit2").text
    incoming = list(db.Mail.select().where(db.Mail.direction == "in"))
    assert sorted(m.message_id.startswith("officeflow-") for m in incoming) == [False, True]
    assert office.servers.messages(office.addr["office"]) == []
