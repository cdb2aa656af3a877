"""The config file: the example loads and documents every key; every mistake names file, key and problem."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from daemon import config as C
from daemon.directory import Directory, RouteError

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "officeflow.example.toml"


@pytest.fixture(autouse=True)
def passwords(monkeypatch):
    monkeypatch.setenv("OFFICEFLOW_IMAP_PASSWORD", "imap-secret")
    monkeypatch.setenv("OFFICEFLOW_SMTP_PASSWORD", "smtp-secret")


def test_the_example_config_loads():
    cfg = C.load_config(EXAMPLE)
    assert cfg.office.address == "office@example.test"
    assert cfg.imap.password == "imap-secret" and cfg.smtp.password == "smtp-secret"
    assert cfg.database.url == "sqlite:////var/lib/officeflow/officeflow.db"
    assert [r.steps for r in cfg.routes][0] == "财务科，李副总"
    assert cfg.people[4].delegate == "zhao" and cfg.units[0].owns("anyone@unit1.example.test")


def test_every_key_is_documented_in_the_example():
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = re.findall(r"^#?\s*([a-z_]+)\s*=", text, flags=re.M)
    sections = {
        "office": C.OfficeConfig, "imap": C.ImapConfig, "smtp": C.SmtpConfig, "hours": C.HoursConfig,
        "reminders": C.RemindersConfig, "review": C.ReviewConfig, "replies": C.RepliesConfig,
        "checks": C.ChecksConfig, "security": C.SecurityConfig, "limits": C.LimitsConfig,
        "jiaoban": C.JiaobanConfig, "archive": C.ArchiveConfig,
        "people": C.Person, "units": C.Unit, "routes": C.Route,
    }
    renamed = {"password": "password_env", "from_addr": "from"}
    for name, cls in sections.items():
        for f in dataclasses.fields(cls):
            key = renamed.get(f.name, f.name)
            assert key in keys, f"[{name}] {key} is not explained in the example config"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "bad.toml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("change, key, problem", [
    (("[office]\n", "[office]\ncolour = 1\n"), "office.colour", "unknown key (this table has: accept_from"),
    (('security = "ssl"', 'security = "tls"'), "imap.security", "must be one of"),
    (('port = 993', 'port = "993"'), "imap.port", "whole number"),
    (('port = 993', 'port = 99999'), "imap.port", "between 1 and 65535"),
    (('head = "director@example.test"', 'head = "director"'), "office.head", "not a mail address"),
    (('password_env = "OFFICEFLOW_IMAP_PASSWORD"', 'password = "hunter2"'), "imap.password", "never written"),
    (('password_env = "OFFICEFLOW_IMAP_PASSWORD"', 'password_env = "NO_SUCH_VARIABLE_X"'), "imap.password_env",
     "NO_SUCH_VARIABLE_X is not set"),
    (('first_after = "1d"', 'first_after = "1 day"'), "reminders.first_after", "duration"),
    (('office = ["08:30-12:00", "13:30-17:30"]', 'office = ["13:30-12:00"]'), "hours.office", "in order"),
    (('superior = "wang"', 'superior = "boss"'), "people[4].superior", "not the id of any"),
    (('number_format = "办请〔{year}〕{seq}号"', 'number_format = "办请{year}"'), "office.number_format", "{seq}"),
    (('url = "sqlite:///var/lib/officeflow/officeflow.db"', 'url = "mysql://x"'), "database.url", "must start"),
    (('calendar = "cn"', 'calendar = "jp"'), "hours.calendar", "cn"),
    (('keep = ""', 'keep = "3 years"'), "archive.keep", "days, weeks or years"),
    (('keep = ""', 'keep = "6m"'), "archive.keep", '"3y"'),
    (('keep = ""', 'keep = 3'), "archive.keep", ""),
])
def test_a_bad_config_names_file_key_and_problem(tmp_path, change, key, problem):
    text = EXAMPLE.read_text(encoding="utf-8")
    old, new = change
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(C.ConfigError) as err:
        C.load_config(path)
    assert err.value.path == str(path) and err.value.key == key and problem in err.value.problem
    assert str(err.value).startswith(f"{path}: {key}: ")
    assert "hunter2" not in str(err.value)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(C.ConfigError, match="file not found"):
        C.load_config(tmp_path / "missing.toml")
    with pytest.raises(C.ConfigError, match="not valid TOML"):
        C.load_config(_write(tmp_path, "[office\nname = 1"))


def test_password_file_is_read_relative_to_the_config(tmp_path):
    (tmp_path / "imap.pw").write_text("from-a-file\n")
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        'password_env = "OFFICEFLOW_IMAP_PASSWORD"', 'password_file = "imap.pw"', 1)
    assert C.load_config(_write(tmp_path, text)).imap.password == "from-a-file"


def test_routes_parse_sequential_joint_and_either_steps():
    d = Directory(C.load_config(EXAMPLE))
    steps = d.parse_route("财务科+审计科，李副总/wang, zonghe@example.test")
    assert [(s.kind, s.approvers) for s in steps] == [
        ("all", ("caiwu@example.test", "shenji@example.test")),
        ("any", ("li@example.test", "wang@example.test")),
        ("one", ("zonghe@example.test",)),
    ]
    assert d.describe_steps(steps) == "财务科+审计科，李副总/王总，综合科"
    assert d.parse_list("行政科、审计科 第一分公司") == ["xingzheng@example.test", "shenji@example.test",
                                                  "unit1@example.test"]
    with pytest.raises(RouteError) as err:
        d.parse_route("财务科，张三")
    assert err.value.token == "张三"


def test_delegates_superiors_and_default_route():
    cfg = C.load_config(EXAMPLE)
    d = Directory(cfg)
    assert d.principals_for("zhao@example.test") == ["zhao@example.test", "li@example.test"]
    assert d.delegate_of("li@example.test") == "zhao@example.test"
    assert d.superior_of("li@example.test") == "wang@example.test"
    assert d.route_for("关于购置办公设备的请示", "").execute == "综合科"
    assert d.route_for("关于召开年度会议的请示", "").steps == "李副总，王总"


@pytest.mark.parametrize("change, key, problem", [
    (('first_after = "1d"', 'first_after = "0h"'), "reminders.first_after", "longer than zero"),
    (('urgent = { "特急" = "2h", "加急" = "4h" }', 'urgent = { "特急" = "0m", "加急" = "4h" }'),
     "reminders.urgent.特急", "longer than zero"),
    (('steps = ["财务科", "李副总"]', 'steps = ["不存在的科室", "李副总"]'), "routes[0].steps", "不存在的科室"),
    (('copy = ["行政科"]', 'copy = ["无名处"]'), "routes[0].copy", "无名处"),
])
def test_durations_and_routes_are_checked_at_start(tmp_path, change, key, problem):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert change[0] in text
    with pytest.raises(C.ConfigError) as err:
        C.load_config(_write(tmp_path, text.replace(*change, 1)))
    assert err.value.key == key and problem in err.value.problem


def test_staff_listed_among_people_sign_with_their_names(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8") + '\n[[people]]\nid = "zhang"\nname = "张明"\nemail = "clerk@example.test"\n'
    d = Directory(C.load_config(_write(tmp_path, text)))
    assert d.name_of("clerk@example.test") == "张明" and d.is_staff("clerk@example.test")
    assert Directory(C.load_config(EXAMPLE)).name_of("clerk@example.test") == "办公室"


# a misspelt key is named with the closest known one, before the required key it hides is reported missing
@pytest.mark.parametrize("old, new, key, meant", [
    ('staff = ["clerk@example.test"]', 'stafff = ["clerk@example.test"]', "office.stafff", "staff"),
    ('head = "director@example.test"', 'haed = "director@example.test"', "office.haed", "head"),
    ('[office]', '[offfice]', "offfice", "office"),
    ('[imap]', '[imapp]', "imapp", "imap"),
    ('host = "127.0.0.1"', 'hots = "127.0.0.1"', "imap.hots", "host"),
    ('processed_folder = "Processed"', 'processed_foldr = "Processed"', "imap.processed_foldr",
     "processed_folder"),
    ('from = "集团公司办公室', 'form = "集团公司办公室', "smtp.form", "from"),
    ('url = "sqlite', 'uri = "sqlite', "database.uri", "url"),
    ('path = "/var/lib/officeflow/archive"', 'paht = "/var/lib/officeflow/archive"', "archive.paht", "path"),
    ('calendar = "cn"', 'calender = "cn"', "hours.calender", "calendar"),
    ('digest_at = "08:30"', 'digest_time = "08:30"', "reminders.digest_time", "digest_at"),
    ('auto_return = false', 'autoreturn = false', "review.autoreturn", "auto_return"),
    ('extra_approve_words = []', 'extra_approve_word = []', "replies.extra_approve_word", "extra_approve_words"),
    ('require_signer = false', 'requires_signer = false', "checks.requires_signer", "require_signer"),
    ('[[people]]\nid = "caiwu"', '[[peple]]\nid = "caiwu"', "peple", "people"),
    ('id = "caiwu"\nname = "财务科"\nemail =', 'id = "caiwu"\nname = "财务科"\nemial =', "people[0].emial",
     "email"),
    ('superior = "wang"', 'superiour = "wang"', "people[4].superiour", "superior"),
    ('emails = ["unit1@', 'email = ["unit1@', "units[0].email", "emails"),
    ('steps = ["财务科", "李副总"]', 'step = ["财务科", "李副总"]', "routes[0].step", "steps"),
    ('execute = "综合科"', 'exeucte = "综合科"', "routes[0].exeucte", "execute"),
])
def test_a_misspelt_key_is_named_with_the_key_it_was_meant_to_be(tmp_path, old, new, key, meant):
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(C.ConfigError) as err:
        C.load_config(path)
    assert err.value.key == key, str(err.value)
    assert str(err.value) == f"{path}: {key}: unknown key; did you mean {meant!r}?"


def test_a_key_in_the_wrong_table_lists_the_keys_of_that_table(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8").replace("[database]\n", "[database]\nnumber_format = \"x\"\n", 1)
    with pytest.raises(C.ConfigError) as err:
        C.load_config(_write(tmp_path, text))
    assert err.value.key == "database.number_format" and err.value.problem == "unknown key (this table has: url)"


@pytest.mark.parametrize("old, new, key, problem", [
    ('disabled = []', 'disabled = ["signr"]', "checks.disabled", "'signr' is not the id of any check rule; "
                                                                  "did you mean 'signer'?"),
    ('disabled = []', 'disabled = ["no_such_rule_at_all"]', "checks.disabled", "is not the id of any check rule"),
    ('require_signer = false', 'require_signer = false\nseverity = { closin = "提示" }', "checks.severity",
     "did you mean 'closing'?"),
])
def test_check_rule_ids_are_checked(tmp_path, old, new, key, problem):
    from daemon.checks import RULES
    assert "signer" in RULES and "closing" in RULES
    text = EXAMPLE.read_text(encoding="utf-8")
    assert old in text
    with pytest.raises(C.ConfigError) as err:
        C.load_config(_write(tmp_path, text.replace(old, new, 1)))
    assert err.value.key == key and problem in err.value.problem


def test_keys_read_by_the_loader_are_known_even_when_not_listed(tmp_path, monkeypatch):
    """The table of known keys only helps name typos: a key the loader reads is never refused."""
    monkeypatch.setitem(C._KEYS, "office", ())
    assert C.load_config(EXAMPLE).office.head == "director@example.test"


@pytest.mark.slow
def test_check_config_names_the_misspelt_key_and_exits_2(tmp_path):
    import os
    import subprocess
    import sys
    text = EXAMPLE.read_text(encoding="utf-8").replace('staff = ["clerk', 'stafff = ["clerk', 1)
    path = _write(tmp_path, text)
    out = subprocess.run([sys.executable, "-m", "daemon", "check-config", "-c", str(path)], capture_output=True,
                         text=True, timeout=60, cwd=EXAMPLE.parents[1],
                         env={**os.environ, "OFFICEFLOW_IMAP_PASSWORD": "x", "OFFICEFLOW_SMTP_PASSWORD": "x"})
    assert out.returncode == 2
    assert f"{path}: office.stafff: unknown key; did you mean 'staff'?" in out.stderr
    assert "is required" not in out.stderr
