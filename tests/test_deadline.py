"""Tests for daemon.deadline: the 时限 expressions of SPEC §6.5 on the 2026 calendar (国庆, 春节, 调休)."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from daemon.deadline import (NEVER_A_DATE, Deadline, Refusal, describe, format_deadline, read, remaining_text,
                             working_days_left)
from daemon.workcal import WorkCalendar
from lanes import examples

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()

# Reference moments, each named for the boundary it sits near.
REFS = {
    "dec": datetime(2026, 12, 1, 10, 12),    # Tuesday: the example of §6.13
    "nov_end": datetime(2026, 11, 27, 15, 0),  # Friday before the end of November
    "year_end": datetime(2026, 12, 28, 9, 0),  # Monday of the last week of 2026
    "guoqing": datetime(2026, 9, 28, 9, 0),    # Monday before 国庆 (10-01..10-07 off, 9-20 and 10-10 worked)
    "in_guoqing": datetime(2026, 10, 1, 10, 0),  # Thursday, first day of 国庆
    "chunjie": datetime(2026, 2, 11, 9, 0),    # Wednesday before 春节 (2-15..2-23 off, 2-14 and 2-28 worked)
    "chunjie_eve": datetime(2026, 2, 13, 16, 0),  # Friday, the last weekday before 春节
    "jan_end": datetime(2026, 1, 30, 9, 0),    # Friday, next month is a short February
    "sunday": datetime(2026, 12, 6, 11, 0),    # a Sunday
}


def test_the_calendar_is_what_the_table_assumes():
    """The real 2026 arrangement (chinesecalendar): the rows below depend on every one of these days."""
    off = [date(2026, 10, d) for d in range(1, 8)] + [date(2026, 2, d) for d in range(15, 24)] + [date(2026, 9, 25)]
    worked = [date(2026, 9, 20), date(2026, 10, 10), date(2026, 2, 14), date(2026, 2, 28)]
    assert not any(CAL.is_workday(d) for d in off)
    assert all(CAL.is_workday(d) for d in worked)
    assert CAL.is_workday(date(2026, 10, 8)) and CAL.is_workday(date(2026, 2, 24))
    assert [REFS[k].weekday() for k in ("dec", "nov_end", "year_end", "guoqing", "in_guoqing", "chunjie",
                                        "chunjie_eve", "jan_end", "sunday")] == [1, 4, 0, 0, 3, 2, 4, 4, 6]


# (reference, text, expected): "YYYY-MM-DD HH:MM" with flags after it, or "!" and a part of the reason.
TABLE = [
    # -- dates, in every way of writing them
    ("dec", "12月5日前", "2026-12-05 17:30 非工作日"),
    ("dec", "12月5日", "2026-12-05 17:30 非工作日"),
    ("dec", "2026年12月5日前", "2026-12-05 17:30 非工作日"),
    ("dec", "12.5前", "2026-12-05 17:30 非工作日"),
    ("dec", "12/5前", "2026-12-05 17:30 非工作日"),
    ("dec", "2026-12-05", "2026-12-05 17:30 非工作日"),
    ("dec", "2026/12/5", "2026-12-05 17:30 非工作日"),
    ("dec", "十二月五日前", "2026-12-05 17:30 非工作日"),
    ("dec", "12月5号前", "2026-12-05 17:30 非工作日"),
    ("dec", "１２月５日前", "2026-12-05 17:30 非工作日"),
    ("dec", "２０２６年１２月１０日前", "2026-12-10 17:30"),
    ("dec", "二〇二六年十二月十日前", "2026-12-10 17:30"),
    ("dec", "12月4日之前", "2026-12-04 17:30"),
    ("dec", "12月4日以前", "2026-12-04 17:30"),
    ("dec", "12月1日前", "2026-12-01 17:30"),
    ("dec", "十二月二十六日前", "2026-12-26 17:30 非工作日"),
    ("dec", "12月廿八日前", "2026-12-28 17:30"),
    ("dec", "12月三十一日前", "2026-12-31 17:30"),
    ("dec", "11月30日前", "2027-11-30 17:30 跨年"),
    ("dec", "1月5日前", "2027-01-05 17:30 跨年"),
    ("dec", "2027年1月5日前", "2027-01-05 17:30"),
    ("dec", "明年3月5日前", "2027-03-05 17:30"),
    ("dec", "今年12月8日前", "2026-12-08 17:30"),
    ("dec", "2028年2月29日前", "2028-02-29 17:30"),
    ("dec", "12月4日（周五）17:30前", "2026-12-04 17:30"),
    ("dec", "2026年12月7日（星期一）前", "2026-12-07 17:30"),
    ("dec", "截至12月10日下午5点前报送", "2026-12-10 17:00"),
    # -- refused dates
    ("dec", "2026年11月30日前", "!已过"),
    ("dec", "2025年12月5日", "!已过"),
    ("dec", "今年11月5日前", "!已过"),
    ("dec", "12月32日", "!12月没有32日"),
    ("dec", "2月30日前", "!2月没有30日"),
    ("dec", "13月1日前", "!没有13月"),
    ("dec", "2月29日前", "!2027年2月没有29日"),
    ("dec", "2026-02-30", "!2月没有30日"),
    ("dec", "12月4日（周四）前", "!12月4日是周五，不是周四"),
    # -- day of the month
    ("dec", "5日前", "2026-12-05 17:30 非工作日"),
    ("dec", "5号前", "2026-12-05 17:30 非工作日"),
    ("dec", "1日前", "2026-12-01 17:30"),
    ("dec", "十日前", "2026-12-10 17:30"),
    ("dec", "廿五日前", "2026-12-25 17:30"),
    ("dec", "三十一日前", "2026-12-31 17:30"),
    ("dec", "8号下午3点前", "2026-12-08 15:00"),
    ("dec", "本月25日前", "2026-12-25 17:30"),
    ("dec", "务必于本月1号前完成", "2026-12-01 17:30"),
    ("sunday", "本月5日前", "!已过（今天是2026年12月6日）"),
    ("dec", "本月32日前", "!12月没有32日"),
    ("dec", "12月18日下午下班前", "2026-12-18 17:30"),
    ("dec", "本周五下午下班前", "2026-12-04 17:30"),
    ("year_end", "在12月1日会议上布置，请1月5日前完成", "!“12月1日”（2027年12月1日（周三）17:30前）与“1月5日前”"),
    # -- today, tomorrow, the day after
    ("dec", "今天", "2026-12-01 17:30"),
    ("dec", "今日", "2026-12-01 17:30"),
    ("dec", "下班前", "2026-12-01 17:30"),
    ("dec", "今天下班前", "2026-12-01 17:30"),
    ("dec", "明天", "2026-12-02 17:30"),
    ("dec", "明日", "2026-12-02 17:30"),
    ("dec", "后天", "2026-12-03 17:30"),
    # -- times of day
    ("dec", "明天上午10点前", "2026-12-02 10:00"),
    ("dec", "明天下午3点半前", "2026-12-02 15:30"),
    ("dec", "明天15:00前", "2026-12-02 15:00"),
    ("dec", "明天１５：００前", "2026-12-02 15:00"),
    ("dec", "明天晚上8点", "2026-12-02 20:00"),
    ("dec", "明天中午12点前", "2026-12-02 12:00"),
    ("dec", "明天上午十点前", "2026-12-02 10:00"),
    ("dec", "明天下午三点一刻前", "2026-12-02 15:15"),
    ("dec", "明天下午3点15分前", "2026-12-02 15:15"),
    ("dec", "明天10点前", "2026-12-02 10:00"),
    ("dec", "明天的下午4点前", "2026-12-02 16:00"),
    ("dec", "明天16时前", "2026-12-02 16:00"),
    ("dec", "明天3点前", "!上午还是下午"),
    ("dec", "明天晚上12点", "!不明确"),
    ("dec", "明天下午12点前", "2026-12-02 12:00"),
    ("dec", "明天下午三点半", "2026-12-02 15:30"),
    ("dec", "周5前", "2026-12-04 17:30"),
    ("dec", "0000年底前", "!没有0年"),
    ("dec", "9999年12月31日", "!没有9999年"),
    ("dec", "2026.12.31", "2026-12-31 17:30"),
    ("dec", "12.31前", "2026-12-31 17:30"),
    ("dec", "7月7日（周天）", "!7月7日是周三，不是周日"),
    ("dec", "明天25点前", "!时刻无效"),
    ("dec", "明天上午15点前", "!时刻无效"),
    ("dec", "明天17:75前", "!时刻无效"),
    ("dec", "下午3点前", "!只有时刻"),
    ("dec", "15:00前", "!只有时刻"),
    # -- weekdays
    ("dec", "周五前", "2026-12-04 17:30"),
    ("dec", "星期五前", "2026-12-04 17:30"),
    ("dec", "礼拜五之前", "2026-12-04 17:30"),
    ("dec", "周二前", "2026-12-01 17:30"),
    ("dec", "周一前", "2026-12-07 17:30"),
    ("dec", "星期天前", "2026-12-06 17:30 非工作日"),
    ("dec", "周五下班前", "2026-12-04 17:30"),
    ("dec", "周四上午11点前", "2026-12-03 11:00"),
    ("dec", "本周五前", "2026-12-04 17:30"),
    ("dec", "这周五", "2026-12-04 17:30"),
    ("dec", "本周五", "2026-12-04 17:30"),
    ("dec", "这个周五前", "2026-12-04 17:30"),
    ("dec", "本星期三", "2026-12-02 17:30"),
    ("dec", "本周二前", "2026-12-01 17:30"),
    ("dec", "本周一前", "!已过"),
    ("dec", "本周日", "2026-12-06 17:30 非工作日"),
    ("dec", "下周三前", "2026-12-09 17:30"),
    ("dec", "下个星期一", "2026-12-07 17:30"),
    ("dec", "下周日前", "2026-12-13 17:30 非工作日"),
    ("dec", "本周内", "2026-12-04 17:30"),
    ("dec", "这周内", "2026-12-04 17:30"),
    ("dec", "下周内", "2026-12-11 17:30"),
    # -- month, ten-day periods, quarter, year
    ("dec", "月底前", "2026-12-31 17:30"),
    ("dec", "本月底", "2026-12-31 17:30"),
    ("dec", "12月底前", "2026-12-31 17:30"),
    ("dec", "11月底前", "2027-11-30 17:30 跨年"),
    ("dec", "2月底前", "2027-02-28 17:30 跨年 非工作日"),
    ("dec", "2026年11月底前", "!已过"),
    ("dec", "月中", "2026-12-15 17:30"),
    ("dec", "上旬", "2026-12-10 17:30"),
    ("dec", "中旬", "2026-12-20 17:30 非工作日"),
    ("dec", "下旬", "2026-12-31 17:30"),
    ("dec", "12月上旬", "2026-12-10 17:30"),
    ("dec", "本月中旬", "2026-12-20 17:30 非工作日"),
    ("dec", "1月上旬", "2027-01-10 17:30 跨年 非工作日"),
    ("dec", "本季度末", "2026-12-31 17:30"),
    ("dec", "季度末前", "2026-12-31 17:30"),
    ("dec", "年底前", "2026-12-31 17:30"),
    ("dec", "年内", "2026-12-31 17:30"),
    ("dec", "今年年底前", "2026-12-31 17:30"),
    # -- counts
    ("dec", "3个工作日内", "2026-12-04 17:30"),
    ("dec", "三个工作日内", "2026-12-04 17:30"),
    ("dec", "5个工作日内", "2026-12-08 17:30"),
    ("dec", "3天内", "2026-12-04 17:30"),
    ("dec", "3日内", "2026-12-04 17:30"),
    ("dec", "10天之内", "2026-12-11 17:30"),
    ("dec", "1周内", "2026-12-08 17:30"),
    ("dec", "一周内", "2026-12-08 17:30"),
    ("dec", "两周内", "2026-12-15 17:30"),
    ("dec", "两个星期内", "2026-12-15 17:30"),
    ("dec", "3个工作日内下午3点前", "2026-12-04 15:00"),
    ("dec", "0个工作日内", "!至少为1"),
    # -- inside sentences
    ("dec", "请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。", "2026-12-04 17:30"),
    ("dec", "时限：12月5日前", "2026-12-05 17:30 非工作日"),
    ("dec", "请于12月10日前报送办公室，逾期视为无意见。", "2026-12-10 17:30"),
    ("dec", "本周五前（12月4日）报送", "2026-12-04 17:30"),
    ("dec", "请各单位在5个工作日内反馈意见", "2026-12-08 17:30"),
    ("dec", "预算12.5万元，3个工作日内报送", "2026-12-04 17:30"),
    ("dec", "每周五例会上通报，12月10日前完成", "2026-12-10 17:30"),
    # -- what is never a date
    ("dec", "尽快", "!尽快"),
    ("dec", "近期", "!近期"),
    ("dec", "抓紧办理", "!抓紧"),
    ("dec", "及时报送", "!及时"),
    ("dec", "节后", "!节后"),
    ("dec", "春节前", "!春节前"),
    ("dec", "下下周三前", "!下下周"),
    ("dec", "两会前", "!两会前"),
    ("dec", "下月底", "!下月"),
    ("dec", "下个月底", "!下个月"),
    ("dec", "大后天", "!大后天"),
    ("dec", "请尽快，12月5日前报送", "!尽快"),
    ("dec", "12月5日前，12月8日前", "!两个不同的时限"),
    ("dec", "明天或后天", "!两个不同的时限"),
    ("dec", "上周五前", "!“上周五前”不是可识别的时限"),
    ("dec", "每月5日前", "!“每月5日前”不是可识别的时限"),
    ("dec", "第四季度末", "!不是可识别的时限"),
    ("dec", "去年年底", "!不是可识别的时限"),
    ("dec", "12月中", "!不是可识别的时限"),
    ("dec", "年前", "!“年前”不是可识别的时限"),
    ("dec", "周五例会", "!不是可识别的时限"),
    ("dec", "12.5万元", "!不是可识别的时限"),
    ("dec", "", "!未找到可识别的时限"),
    ("dec", "请综合科牵头起草通报，安全科配合。" * 3, "!未找到可识别的时限"),
    # -- the end of November
    ("nov_end", "月底前", "2026-11-30 17:30"),
    ("nov_end", "5日前", "2026-12-05 17:30 跨月 非工作日"),
    ("nov_end", "27日前", "2026-11-27 17:30"),
    ("nov_end", "30日前", "2026-11-30 17:30"),
    ("nov_end", "31日前", "!11月没有31日"),
    ("nov_end", "上旬", "2026-12-10 17:30 跨月"),
    ("nov_end", "中旬", "2026-12-20 17:30 跨月 非工作日"),
    ("nov_end", "下旬", "2026-11-30 17:30"),
    ("nov_end", "月中", "2026-12-15 17:30 跨月"),
    ("nov_end", "本周内", "2026-11-27 17:30"),
    ("nov_end", "下周内", "2026-12-04 17:30"),
    ("nov_end", "下周一前", "2026-11-30 17:30"),
    ("nov_end", "周一前", "2026-11-30 17:30"),
    ("nov_end", "本周四", "!已过"),
    ("nov_end", "3个工作日内", "2026-12-02 17:30"),
    ("nov_end", "2个工作日内", "2026-12-01 17:30"),
    ("nov_end", "7天内", "2026-12-04 17:30"),
    ("nov_end", "本季度末", "2026-12-31 17:30"),
    ("nov_end", "12月5日前", "2026-12-05 17:30 非工作日"),
    ("nov_end", "今天下午4点前", "2026-11-27 16:00"),
    ("nov_end", "今天上午10点前", "2026-11-27 10:00"),
    # -- the end of the year
    ("year_end", "5日前", "2027-01-05 17:30 跨年 跨月"),
    ("year_end", "1月5日前", "2027-01-05 17:30 跨年"),
    ("year_end", "年底前", "2026-12-31 17:30"),
    ("year_end", "年内", "2026-12-31 17:30"),
    ("year_end", "月底前", "2026-12-31 17:30"),
    ("year_end", "下旬", "2026-12-31 17:30"),
    ("year_end", "上旬", "2027-01-10 17:30 跨年 跨月 非工作日"),
    ("year_end", "本季度末", "2026-12-31 17:30"),
    ("year_end", "下周三前", "2027-01-06 17:30"),
    ("year_end", "2个工作日内", "2026-12-30 17:30"),
    ("year_end", "12月28日前", "2026-12-28 17:30"),
    ("year_end", "12月27日前", "2027-12-27 17:30 跨年"),
    ("year_end", "明年1月5日前", "2027-01-05 17:30"),
    ("year_end", "2026年底前", "2026-12-31 17:30"),
    ("year_end", "2025年底前", "!已过"),
    # -- 国庆
    ("guoqing", "本周内", "2026-09-30 17:30"),
    ("guoqing", "下周内", "2026-10-10 17:30"),
    ("guoqing", "3个工作日内", "2026-10-08 17:30"),
    ("guoqing", "5个工作日内", "2026-10-10 17:30"),
    ("guoqing", "国庆节后三天内", "!节后"),
    ("guoqing", "10月1日前", "2026-10-01 17:30 非工作日"),
    ("guoqing", "10月8日前", "2026-10-08 17:30"),
    ("guoqing", "10月10日前", "2026-10-10 17:30"),
    ("guoqing", "周五前", "2026-10-02 17:30 非工作日"),
    ("guoqing", "下周三前", "2026-10-07 17:30 非工作日"),
    ("guoqing", "下周六前", "2026-10-10 17:30"),
    ("guoqing", "月底前", "2026-09-30 17:30"),
    ("guoqing", "本季度末", "2026-09-30 17:30"),
    ("guoqing", "下旬", "2026-09-30 17:30"),
    ("guoqing", "中旬", "2026-10-20 17:30 跨月"),
    ("guoqing", "上旬", "2026-10-10 17:30 跨月"),
    ("guoqing", "7天内", "2026-10-05 17:30 非工作日"),
    ("guoqing", "本周日前", "2026-10-04 17:30 非工作日"),
    ("in_guoqing", "本周内", "!本周已没有工作日"),
    ("in_guoqing", "下周内", "2026-10-10 17:30"),
    ("in_guoqing", "今天", "2026-10-01 17:30 非工作日"),
    ("in_guoqing", "1个工作日内", "2026-10-08 17:30"),
    ("in_guoqing", "明天", "2026-10-02 17:30 非工作日"),
    ("in_guoqing", "下周一前", "2026-10-05 17:30 非工作日"),
    # -- 春节
    ("chunjie", "本周内", "2026-02-14 17:30"),
    ("chunjie", "下周内", "!下周（2月16日至2月22日）没有工作日"),
    ("chunjie", "3个工作日内", "2026-02-14 17:30"),
    ("chunjie", "4个工作日内", "2026-02-24 17:30"),
    ("chunjie", "春节前", "!春节前"),
    ("chunjie", "2月底前", "2026-02-28 17:30"),
    ("chunjie", "月底前", "2026-02-28 17:30"),
    ("chunjie", "下旬", "2026-02-28 17:30"),
    ("chunjie", "2月29日前", "!2026年2月没有29日"),
    ("chunjie", "2月30日前", "!2月没有30日"),
    ("chunjie", "本周六前", "2026-02-14 17:30"),
    ("chunjie", "本周日前", "2026-02-15 17:30 非工作日"),
    ("chunjie", "下周一前", "2026-02-16 17:30 非工作日"),
    ("chunjie", "节后一周内", "!节后"),
    ("chunjie", "10天内", "2026-02-21 17:30 非工作日"),
    ("chunjie_eve", "本周内", "2026-02-14 17:30"),
    ("chunjie_eve", "1个工作日内", "2026-02-14 17:30"),
    ("chunjie_eve", "2个工作日内", "2026-02-24 17:30"),
    ("chunjie_eve", "下周内", "!没有工作日"),
    # -- a short February ahead
    ("jan_end", "30日前", "2026-01-30 17:30"),
    ("jan_end", "29日前", "!2026年2月没有29日"),
    ("jan_end", "31日前", "2026-01-31 17:30 非工作日"),
    ("jan_end", "月底前", "2026-01-31 17:30 非工作日"),
    ("jan_end", "下旬", "2026-01-31 17:30 非工作日"),
    ("jan_end", "中旬", "2026-02-20 17:30 跨月 非工作日"),
    ("jan_end", "月中", "2026-02-15 17:30 跨月 非工作日"),
    ("jan_end", "上旬", "2026-02-10 17:30 跨月"),
    ("jan_end", "2月底前", "2026-02-28 17:30"),
    ("jan_end", "本季度末", "2026-03-31 17:30"),
    # -- a Sunday
    ("sunday", "本周内", "!本周已没有工作日"),
    ("sunday", "周日前", "2026-12-06 17:30 非工作日"),
    ("sunday", "1个工作日内", "2026-12-07 17:30"),
    ("sunday", "本周六", "!已过"),
    ("sunday", "下周五前", "2026-12-11 17:30"),
    ("sunday", "今天", "2026-12-06 17:30 非工作日"),
]


def test_the_table_is_large_enough():
    assert len(TABLE) >= 150
    assert len({(ref, text) for ref, text, _ in TABLE}) == len(TABLE)


def _shown(result) -> str:
    if isinstance(result, Refusal):
        return "!" + result.reason
    return " ".join([f"{result.at:%Y-%m-%d %H:%M}", *result.flags])


@pytest.mark.parametrize("ref, text, expected", TABLE)
def test_it_reads_the_table(ref, text, expected):
    result = read(text, REFS[ref], CAL)
    if expected.startswith("!"):
        assert isinstance(result, Refusal), _shown(result)
        assert not result.ok
        assert expected[1:] in result.reason
    else:
        assert isinstance(result, Deadline), result
        assert result.ok
        parts = expected.split(" ")
        flags = parts[2:]
        assert f"{result.at:%Y-%m-%d %H:%M}" == " ".join(parts[:2])
        assert sorted(result.flags) == sorted(flags)
        assert result.at.tzinfo is not None and result.at.utcoffset() == timedelta(hours=8)


@pytest.mark.parametrize("text, matched", [
    ("请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。", "本周五前"),
    ("时限：12月5日前", "12月5日前"),
    ("请于１２月５日前报送", "１２月５日前"),
    ("请在明天下午3点半前回复", "明天下午3点半前"),
])
def test_it_names_the_expression_it_read(text, matched):
    assert read(text, REFS["dec"], CAL).text == matched


def test_an_aware_reference_is_taken_in_the_calendar_zone():
    # 2026-12-01 23:30 in Shanghai is still 15:30 UTC of the same day, and 明天 is 12-02.
    utc = datetime(2026, 12, 1, 15, 30, tzinfo=ZoneInfo("UTC"))
    assert read("明天", utc, CAL).at == datetime(2026, 12, 2, 17, 30, tzinfo=SH)
    # 16:30 UTC is already 12-02 in Shanghai.
    assert read("明天", utc + timedelta(hours=1), CAL).at == datetime(2026, 12, 3, 17, 30, tzinfo=SH)


def test_the_end_of_office_hours_is_the_end_of_the_last_span():
    from datetime import time
    cal = WorkCalendar(office=((time(9), time(12)), (time(14), time(18, 15))))
    assert read("本周五前", REFS["dec"], cal).at == datetime(2026, 12, 4, 18, 15, tzinfo=SH)
    assert read("本周五下午3点前", REFS["dec"], cal).at == datetime(2026, 12, 4, 15, 0, tzinfo=SH)


def test_a_mon_fri_calendar_counts_working_days_without_holidays():
    cal = WorkCalendar(kind="mon-fri")
    assert read("3个工作日内", REFS["guoqing"], cal).at.date() == date(2026, 10, 1)


def test_a_year_the_calendar_does_not_know_is_counted_monday_to_friday_with_a_warning():
    cal = WorkCalendar()
    ref = datetime(2035, 2, 7, 9, 0)  # a Wednesday, far past any holiday table
    assert read("3个工作日内", ref, cal).at.date() == date(2035, 2, 12)
    assert cal.warnings and "2035" in cal.warnings[0]


def test_office_days_off_are_kept_out_of_working_days():
    # What an office lists in [hours] extra_days_off, e.g. for 2027's 春节 while the holiday
    # package has no 2027 arrangement yet (chinesecalendar 1.11 knows up to 2026).
    ref = datetime(2027, 2, 3, 9, 0)  # a Wednesday
    off = [date(2027, 2, 5) + timedelta(days=n) for n in range(9)]
    cal = WorkCalendar(kind="mon-fri", extra_days_off=off)
    assert read("3个工作日内", ref, cal).at.date() == date(2027, 2, 16)
    assert read("本周五前", ref, cal).flags == ("非工作日",)
    assert read("下周内", ref, cal).reason.endswith("下周（2月8日至2月14日）没有工作日")


# ---- 剩 / 逾期 -----------------------------------------------------------------------------

REMAINING = [
    # deadline, now, text
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 1, 10, 12), "剩 3 个工作日"),
    (datetime(2026, 12, 5, 17, 30), datetime(2026, 12, 1, 10, 12), "剩 3 个工作日"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 4, 16, 0), "剩 0 个工作日"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 4, 17, 30), "剩 0 个工作日"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 4, 18, 0), "逾期 0 个工作日"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 5, 10, 0), "逾期 0 个工作日"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 7, 9, 0), "逾期 1 个工作日"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 8, 9, 0), "逾期 2 个工作日"),
    (datetime(2026, 12, 5, 17, 30), datetime(2026, 12, 4, 10, 0), "剩 0 个工作日"),
    (datetime(2026, 9, 30, 17, 30), datetime(2026, 10, 8, 9, 0), "逾期 1 个工作日"),
    (datetime(2026, 9, 30, 17, 30), datetime(2026, 10, 10, 9, 0), "逾期 3 个工作日"),
    (datetime(2026, 9, 30, 17, 30), datetime(2026, 9, 28, 9, 0), "剩 2 个工作日"),
    (datetime(2026, 10, 9, 17, 30), datetime(2026, 9, 28, 9, 0), "剩 4 个工作日"),
    (datetime(2026, 2, 24, 17, 30), datetime(2026, 2, 11, 9, 0), "剩 4 个工作日"),
    (datetime(2026, 2, 13, 17, 30), datetime(2026, 2, 24, 9, 0), "逾期 2 个工作日"),
]


@pytest.mark.parametrize("deadline, now, text", REMAINING)
def test_it_counts_working_days_left_and_overdue(deadline, now, text):
    at = deadline.replace(tzinfo=SH)
    assert remaining_text(at, now.replace(tzinfo=SH), CAL) == text
    n = int(text.split()[1])
    assert working_days_left(at, now.replace(tzinfo=SH), CAL) == (-n if text.startswith("逾期") else n)


def test_the_example_reads_as_the_spec_shows_it():
    ref = datetime(2026, 12, 1, 10, 12, tzinfo=SH)
    found = read("请综合科牵头，安全科配合，本周五前拿出通报初稿，突出问题整改，不超过两页。", ref, CAL)
    assert f"{found.text} → {describe(found.at, ref, CAL)}" == "本周五前 → 12月4日（周五）17:30前，剩 3 个工作日"
    assert describe(found.at, datetime(2026, 12, 7, 9, 0), CAL) == "12月4日（周五）17:30前，逾期 1 个工作日"
    assert describe(datetime(2027, 1, 4, 12, 0), ref, CAL).startswith("2027年1月4日（周一）12:00前，剩 ")


def test_the_reader_touches_no_database_mail_or_clock():
    import ast
    import daemon.deadline
    tree = ast.parse(open(daemon.deadline.__file__, encoding="utf-8").read())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in imported if m.startswith("daemon")} == {"daemon.workcal"}
    assert not imported & {"os", "peewee", "smtplib", "imaplib", "daemon.clock", "daemon.models"}


@pytest.mark.parametrize("at, reference, text", [
    (datetime(2026, 12, 4, 17, 30), None, "12月4日（周五）17:30前"),
    (datetime(2026, 12, 4, 17, 30), datetime(2026, 12, 1), "12月4日（周五）17:30前"),
    (datetime(2027, 1, 5, 9, 5), datetime(2026, 12, 28), "2027年1月5日（周二）09:05前"),
    (datetime(2026, 10, 4, 12, 0), None, "10月4日（周日）12:00前"),
])
def test_it_formats_a_deadline_absolutely(at, reference, text):
    assert format_deadline(at.replace(tzinfo=SH), reference and reference.replace(tzinfo=SH)) == text


# ---- properties ----------------------------------------------------------------------------

_CN = "一二三四五六七八九"


def _cn(n: int) -> str:
    if n < 10:
        return "〇一二三四五六七八九"[n]
    tens, ones = divmod(n, 10)
    head = "" if tens == 1 else _CN[tens - 1]
    if tens == 2 and n % 3 == 0:
        head, tens_word = "", "廿"
    else:
        tens_word = "十"
    return head + tens_word + ("" if ones == 0 else _CN[ones - 1])


def _wide(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def numbers(lo: int, hi: int):
    return st.integers(lo, hi).flatmap(lambda n: st.sampled_from([(n, str(n)), (n, _cn(n)), (n, _wide(n))]))


QIAN = st.sampled_from(["前", "之前", "以前"])
TIMES = st.sampled_from(["", "上午10点前", "下午3点半前", "15:00前", "晚上8点", "下班前", "中午12点前"])


@st.composite
def dates(draw):
    """(month, day, text) of a date without a year, valid or not."""
    month, m = draw(numbers(1, 13))
    day, d = draw(numbers(1, 32))
    return month, day, f"{m}月{d}{draw(st.sampled_from(['日', '号']))}{draw(QIAN)}"


@st.composite
def expressions(draw):
    kind = draw(st.integers(0, 9))
    if kind == 7:
        month, day = draw(st.integers(1, 12)), draw(st.integers(1, 31))
        return draw(st.sampled_from([f"{month}.{day}前", f"{month}/{day}前", f"2026-{month:02d}-{day:02d}",
                                     f"今年{month}月{day}日前", f"明年{month}月{day}日前", f"本月{day}日前"]))
    if kind == 8:
        return draw(st.sampled_from(["", "12月", "2月", "本月"])) + draw(st.sampled_from(["上旬", "中旬", "下旬", "底前"]))
    if kind == 9:
        return draw(st.sampled_from(["今天", "明天", "后天", "周三", "下周一", "本周五"])) + draw(
            st.sampled_from(["上午九点半前", "下午3点一刻前", "9:05前", "下午下班前", "晚上7点", "中午1点前"]))
    if kind == 0:
        return draw(dates())[2]
    if kind == 1:
        return f"{draw(numbers(1, 31))[1]}日{draw(QIAN)}"
    if kind == 2:
        return draw(st.sampled_from(["", "本", "这", "下"])) + "周" + draw(st.sampled_from("一二三四五六日")) + draw(QIAN)
    if kind == 3:
        return f"{draw(numbers(1, 30))[1]}{draw(st.sampled_from(['个工作日内', '天内', '日内', '周内']))}"
    if kind == 4:
        return draw(st.sampled_from(["今天", "明天", "后天", "月底前", "月中", "上旬", "中旬", "下旬", "本季度末",
                                     "年底前", "年内", "本周内", "下周内", "12月底前", "2月底前"]))
    if kind == 5:
        return draw(expressions()) + draw(TIMES)
    return f"{draw(st.integers(2024, 2028))}年{draw(dates())[2]}"


references = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2026, 12, 31, 23, 59))


@settings(max_examples=examples(300), deadline=None)
@given(expressions(), references)
def test_a_deadline_is_never_before_the_reference_day(text, ref):
    result = read(text, ref, CAL)
    if result.ok:
        assert result.at.date() >= ref.date()
        assert result.at.tzinfo is not None


@settings(max_examples=examples(300), deadline=None)
@given(dates(), references)
def test_a_date_is_read_as_written_or_refused_never_rolled_over(written, ref):
    month, day, text = written
    result = read(text, ref, CAL)
    try:
        date(2024, month, day)
    except ValueError:
        assert not result.ok
        return
    if result.ok:
        assert (result.at.month, result.at.day) == (month, day)
        assert result.at.year in (ref.year, ref.year + 1)
        assert result.cross_year == (result.at.year > ref.year)
    else:
        assert (month, day) == (2, 29)


@settings(max_examples=examples(300), deadline=None)
@given(expressions(), references, st.sampled_from(NEVER_A_DATE), st.sampled_from(["{w}{e}", "{e}{w}", "{w}，{e}",
                                                                                    "请{e}{w}办理", "{w}：{e}"]))
def test_a_never_a_date_word_never_yields_a_date(text, ref, word, shape):
    assert not read(shape.format(w=word, e=text), ref, CAL).ok


@settings(max_examples=examples(300), deadline=None)
@given(expressions(), references)
def test_the_formatted_deadline_reads_back_as_the_same_moment(text, ref):
    result = read(text, ref, CAL)
    assume(result.ok)
    shown = format_deadline(result.at, ref.replace(tzinfo=SH))
    again = read(shown, ref, CAL)
    assert again.ok, (shown, again)
    assert again.at == result.at


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.one_of(st.sampled_from(list("0123456789０１２年月日号前后内周星期天今明本这下上中旬底末季度个工作点半:：.-/，尽快每第")),
                                  st.characters())), references)
def test_any_text_gives_a_deadline_or_a_reason_and_never_raises(text, ref):
    result = read(text, ref, CAL)
    assert result.ok or result.reason


@settings(max_examples=examples(300), deadline=None)
@given(expressions(), references, st.sampled_from(["请综合科牵头，安全科配合，{e}拿出通报初稿，不超过两页。",
                                                   "时限：{e}", "{e}", "请于{e}报送办公室。", "  {e}\n"]))
def test_an_expression_reads_the_same_inside_a_sentence(text, ref, sentence):
    alone, inside = read(text, ref, CAL), read(sentence.format(e=text), ref, CAL)
    assert alone.ok == inside.ok
    if alone.ok:
        assert (inside.at, inside.flags, inside.text) == (alone.at, alone.flags, alone.text)


@settings(max_examples=examples(300), deadline=None)
@given(numbers(1, 33), st.sampled_from(["日前", "号前", "日之前"]), references)
def test_a_day_of_the_month_is_that_day_of_this_or_the_next_month_or_refused(number, suffix, ref):
    n, written = number
    result = read(written + suffix, ref, CAL)
    if n > 31:
        assert not result.ok
    if result.ok:
        assert result.at.day == n
        months = (result.at.year - ref.year) * 12 + result.at.month - ref.month
        assert months == (1 if n < ref.day else 0)
        assert result.cross_month == (months == 1)
    else:
        assert n > 28  # only a day that this or the next month lacks
