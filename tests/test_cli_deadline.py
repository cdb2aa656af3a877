"""Tests for `officeflow deadline`: the reading printed, the reason when unreadable, the reference time and -c."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow          # every test starts the officeflow command in a new interpreter

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config" / "officeflow.example.toml"


def officeflow(*args, now=None):
    env = {k: v for k, v in os.environ.items() if k != "OFFICEFLOW_NOW"}
    if now is not None:
        env["OFFICEFLOW_NOW"] = now
    return subprocess.run([sys.executable, "-m", "daemon", "deadline", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_it_prints_the_example_of_the_spec():
    done = officeflow("请综合科牵头，安全科配合，本周五前拿出通报初稿。", "--at", "2026-12-01T10:12+08:00")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "本周五前 → 12月4日（周五）17:30前，剩 3 个工作日"
    assert "日期：2026年12月4日（周五）" in lines
    assert "时刻：17:30" in lines
    assert "提示：无" in lines
    assert "参照：2026年12月1日（周二）10:12，Asia/Shanghai" in lines


def test_it_prints_the_flags():
    done = officeflow("12月5日前", "--at", "2026-12-08T09:00+08:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("12月5日前 → 2027年12月5日（周日）17:30前，剩 ")
    assert "提示：跨年、非工作日" in done.stdout


def test_an_unreadable_text_says_why_and_exits_1():
    done = officeflow("尽快", "--at", "2026-12-01T10:12+08:00")
    assert done.returncode == 1
    assert "无法确定时限：时限“尽快”无法确定日期，请写明，如“时限：12月5日前”" in done.stdout
    done = officeflow("12月32日", "--at", "2026-12-01T10:12+08:00")
    assert done.returncode == 1
    assert "12月没有32日" in done.stdout


def test_officeflow_now_is_the_reference_time_and_at_wins_over_it():
    done = officeflow("明天", now="2026-12-01T02:12:00+00:00")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("明天 → 12月2日（周三）17:30前，剩 1 个工作日")
    done = officeflow("明天", "--at", "2026-12-03T09:00+08:00", now="2026-12-01T02:12:00+00:00")
    assert done.stdout.startswith("明天 → 12月4日（周五）17:30前")


def test_an_at_without_offset_is_office_time_and_a_passed_deadline_is_overdue():
    done = officeflow("今天", "--at", "2026-12-01 23:30")
    assert done.stdout.startswith("今天 → 12月1日（周二）17:30前，逾期 0 个工作日")
    done = officeflow("2026年12月4日前", "--at", "2026-12-08 09:00")
    assert done.returncode == 1
    assert "已过" in done.stdout


def test_a_bad_at_is_a_usage_error():
    done = officeflow("今天", "--at", "yesterday")
    assert done.returncode == 2
    assert "2026-12-01T10:12+08:00" in done.stderr


def test_with_a_config_its_office_hours_and_time_zone_are_used(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace('office = ["08:30-12:00", "13:30-17:30"]', 'office = ["09:00-12:00", "14:00-18:00"]')
    text = text.replace('timezone = "Asia/Shanghai"', 'timezone = "Asia/Tokyo"')
    assert "Asia/Tokyo" in text and "14:00-18:00" in text
    config = tmp_path / "officeflow.toml"
    config.write_text(text, encoding="utf-8")
    # 23:30 in Shanghai is already Wednesday 00:30 in Tokyo.
    done = officeflow("明天", "--at", "2026-12-01T23:30+08:00", "-c", str(config))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("明天 → 12月3日（周四）18:00前，剩 1 个工作日")
    assert "Asia/Tokyo" in done.stdout


def test_a_year_the_calendar_does_not_know_is_said():
    done = officeflow("3个工作日内", "--at", "2035-03-01T09:00+08:00")
    assert done.returncode == 0, done.stderr
    assert "注意：2035年的法定节假日安排尚未收录，按周一至周五计算" in done.stdout
