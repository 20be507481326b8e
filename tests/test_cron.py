from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.cron import due_ticks, validate_cron, validate_timezone
from scheduler.errors import UsageError

PARIS = ZoneInfo("Europe/Paris")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)  # type: ignore[misc]


# --- validate_cron ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "0 2 * * *",
        "*/15 * * * *",
        "0 9-17 * * MON-FRI",
        "30 4 1,15 * *",
        "0 0 29 2 *",
        "0 0 L * *",
        "  0   2 * * *  ",
        "@daily",
        "@HOURLY",
        "@weekly",
        "@monthly",
        "@yearly",
        "@annually",
        "@midnight",
    ],
)
def test_validate_cron_accepts_five_field_expressions_and_aliases(expression: str) -> None:
    validate_cron(expression)


@pytest.mark.parametrize(
    ("expression", "detail"),
    [
        ("", "has 0 fields"),
        ("0 2 * *", "has 4 fields"),
        ("0 0 2 * * *", "seconds and years fields are not supported"),
        ("0 0 2 * * * 2024", "seconds and years fields are not supported"),
        ("@reboot", "has 1 fields"),
        ("60 * * * *", "is not a valid cron expression"),
        ("0 24 * * *", "is not a valid cron expression"),
        ("0 2 32 * *", "is not a valid cron expression"),
        ("0 2 * 13 *", "is not a valid cron expression"),
        ("0 2 * * FUNDAY", "is not a valid cron expression"),
        ("0\u00a02 * * * *", "is not a valid cron expression"),
        ("H 2 * * *", "uses H or R"),
        ("R 2 * * *", "uses H or R"),
        ("0 R(0-5) * * *", "uses H or R"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_validate_cron_rejects_bad_expressions_saying_what_is_expected(expression: str, detail: str) -> None:
    with pytest.raises(UsageError) as caught:
        validate_cron(expression)
    message = str(caught.value)
    assert message.startswith(f"schedule {expression!r}")
    assert detail in message
    if "never fires" not in message:
        assert (
            'expected five fields (minute hour day-of-month month day-of-week) such as "0 2 * * *"' in message
        )


def test_validate_cron_rejects_a_non_string() -> None:
    with pytest.raises(UsageError, match="expected five fields"):
        validate_cron(None)  # type: ignore[arg-type]


def test_validate_timezone_returns_the_zone_or_names_what_is_expected() -> None:
    assert validate_timezone("Europe/Paris") == PARIS
    for bad in ("Europe/Pariss", "", "../etc/passwd", "+02:00"):
        with pytest.raises(UsageError, match="is not a known IANA time zone: expected a name such as"):
            validate_timezone(bad)


# --- due_ticks: which ticks ---------------------------------------------------------------------------


def test_returns_aware_utc_datetimes() -> None:
    [tick] = due_ticks("0 2 * * *", "UTC", None, utc(2024, 1, 5, 12), catchup=False)
    assert tick == utc(2024, 1, 5, 2)
    assert tick.tzinfo is UTC


def test_never_scheduled_job_gets_only_the_latest_tick_not_its_history() -> None:
    ticks = due_ticks("*/5 * * * *", "UTC", None, utc(2024, 1, 5, 12, 7), catchup=True)
    assert ticks == [utc(2024, 1, 5, 12, 5)]


def test_tick_exactly_at_now_is_due() -> None:
    assert due_ticks("0 2 * * *", "UTC", None, utc(2024, 1, 5, 2), catchup=False) == [utc(2024, 1, 5, 2)]
    assert due_ticks("0 2 * * *", "UTC", utc(2024, 1, 4, 2), utc(2024, 1, 5, 2), catchup=True) == [
        utc(2024, 1, 5, 2)
    ]


def test_tick_a_microsecond_after_now_is_not_due() -> None:
    now = utc(2024, 1, 5, 2) - timedelta(microseconds=1)
    assert due_ticks("0 2 * * *", "UTC", None, now, catchup=False) == [utc(2024, 1, 4, 2)]


def test_last_tick_itself_is_excluded() -> None:
    assert due_ticks("0 2 * * *", "UTC", utc(2024, 1, 5, 2), utc(2024, 1, 5, 2), catchup=True) == []
    assert due_ticks("0 2 * * *", "UTC", utc(2024, 1, 5, 2), utc(2024, 1, 5, 3), catchup=False) == []


def test_last_tick_after_now_gives_nothing() -> None:
    # A clock stepped back must not re-fire ticks that were already scheduled.
    assert due_ticks("* * * * *", "UTC", utc(2024, 1, 5, 12), utc(2024, 1, 5, 11), catchup=True) == []
    assert due_ticks("* * * * *", "UTC", utc(2024, 1, 5, 12), utc(2024, 1, 5, 11), catchup=False) == []


def test_without_catchup_only_the_latest_missed_tick_is_due() -> None:
    ticks = due_ticks("0 * * * *", "UTC", utc(2024, 1, 1, 0), utc(2024, 1, 5, 12, 30), catchup=False)
    assert ticks == [utc(2024, 1, 5, 12)]


def test_without_catchup_a_years_long_gap_is_still_one_tick_and_fast() -> None:
    ticks = due_ticks("* * * * *", "UTC", utc(2000, 1, 1), utc(2024, 1, 5, 12, 30, 30), catchup=False)
    assert ticks == [utc(2024, 1, 5, 12, 30)]


def test_with_catchup_every_missed_tick_is_due_oldest_first() -> None:
    ticks = due_ticks("0 */6 * * *", "UTC", utc(2024, 1, 1, 0), utc(2024, 1, 2, 1), catchup=True)
    assert ticks == [utc(2024, 1, 1, 6), utc(2024, 1, 1, 12), utc(2024, 1, 1, 18), utc(2024, 1, 2, 0)]


def test_catchup_stops_at_the_oldest_limit_ticks_so_the_next_pass_continues() -> None:
    last, now = utc(2024, 1, 1), utc(2024, 1, 1, 1)
    first = due_ticks("* * * * *", "UTC", last, now, catchup=True, limit=25)
    assert first == [last + timedelta(minutes=n) for n in range(1, 26)]
    second = due_ticks("* * * * *", "UTC", first[-1], now, catchup=True, limit=25)
    third = due_ticks("* * * * *", "UTC", second[-1], now, catchup=True, limit=25)
    assert first + second + third == [last + timedelta(minutes=n) for n in range(1, 61)]
    assert due_ticks("* * * * *", "UTC", third[-1], now, catchup=True, limit=25) == []


def test_catchup_default_limit_is_a_thousand() -> None:
    ticks = due_ticks("* * * * *", "UTC", utc(2020, 1, 1), utc(2024, 1, 1), catchup=True)
    assert len(ticks) == 1000
    assert ticks[0] == utc(2020, 1, 1, 0, 1)


def test_newest_first_ordering_is_left_to_the_caller() -> None:
    # Even with a limit, catch-up hands back the OLDEST ticks in ascending order; a caller that wants
    # the newest first reverses them itself, and the newest missed ticks come on later passes.
    ticks = due_ticks("0 * * * *", "UTC", utc(2024, 1, 1), utc(2024, 1, 2), catchup=True, limit=3)
    assert ticks == [utc(2024, 1, 1, 1), utc(2024, 1, 1, 2), utc(2024, 1, 1, 3)]
    assert ticks == sorted(ticks)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="limit"):
        due_ticks("* * * * *", "UTC", utc(2024, 1, 1), utc(2024, 1, 2), catchup=True, limit=0)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        due_ticks("* * * * *", "UTC", None, datetime(2024, 1, 1), catchup=False)
    with pytest.raises(ValueError, match="last_tick must be a timezone-aware"):
        due_ticks("* * * * *", "UTC", datetime(2024, 1, 1), utc(2024, 1, 2), catchup=True)


def test_inputs_in_other_zones_are_compared_as_instants() -> None:
    now = datetime(2024, 1, 5, 14, 0, tzinfo=timezone(timedelta(hours=2)))  # 12:00 UTC
    assert due_ticks("0 12 * * *", "UTC", None, now, catchup=False) == [utc(2024, 1, 5, 12)]


def test_bad_expression_or_timezone_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="expected five fields"):
        due_ticks("every day", "UTC", None, utc(2024, 1, 1), catchup=False)
    with pytest.raises(UsageError, match="IANA"):
        due_ticks("0 2 * * *", "Mars/Olympus", None, utc(2024, 1, 1), catchup=False)


def test_expression_that_never_fires_has_no_ticks() -> None:
    assert due_ticks("0 0 30 2 *", "UTC", None, utc(2024, 1, 1), catchup=False) == []
    assert due_ticks("0 0 30 2 *", "UTC", utc(2023, 1, 1), utc(2024, 1, 1), catchup=True) == []


# --- due_ticks: calendar edge cases ---------------------------------------------------------------------


def test_leap_day_schedule_fires_only_in_leap_years() -> None:
    ticks = due_ticks("0 0 29 2 *", "UTC", utc(2019, 1, 1), utc(2029, 1, 1), catchup=True)
    assert ticks == [utc(2020, 2, 29), utc(2024, 2, 29), utc(2028, 2, 29)]


def test_day_31_skips_shorter_months() -> None:
    ticks = due_ticks("0 0 31 * *", "UTC", utc(2024, 1, 1), utc(2024, 12, 31, 1), catchup=True)
    assert [tick.month for tick in ticks] == [1, 3, 5, 7, 8, 10, 12]


def test_last_day_of_month_follows_month_length() -> None:
    ticks = due_ticks("0 0 L * *", "UTC", utc(2024, 1, 1), utc(2024, 5, 1), catchup=True)
    assert ticks == [utc(2024, 1, 31), utc(2024, 2, 29), utc(2024, 3, 31), utc(2024, 4, 30)]


def test_hourly_schedule_crosses_a_day_and_year_boundary() -> None:
    ticks = due_ticks("0 * * * *", "UTC", utc(2023, 12, 31, 22), utc(2024, 1, 1, 1, 30), catchup=True)
    assert ticks == [utc(2023, 12, 31, 23), utc(2024, 1, 1, 0), utc(2024, 1, 1, 1)]


# --- due_ticks: time zones and DST --------------------------------------------------------------------


def test_schedule_is_evaluated_in_the_stated_zone() -> None:
    # 02:00 in Paris is 01:00 UTC in winter and 00:00 UTC in summer.
    assert due_ticks("0 2 * * *", "Europe/Paris", None, utc(2024, 1, 15, 12), catchup=False) == [
        utc(2024, 1, 15, 1)
    ]
    assert due_ticks("0 2 * * *", "Europe/Paris", None, utc(2024, 7, 15, 12), catchup=False) == [
        utc(2024, 7, 15, 0)
    ]


def test_daily_schedule_across_spring_forward_fires_once_a_day_in_local_time() -> None:
    # 2024-03-31 02:00 does not exist in Paris: the tick moves to 03:00 CEST, the first minute after the jump.
    ticks = due_ticks("0 2 * * *", "Europe/Paris", utc(2024, 3, 29, 12), utc(2024, 4, 1, 12), catchup=True)
    assert ticks == [
        paris(2024, 3, 30, 2).astimezone(UTC),
        paris(2024, 3, 31, 3).astimezone(UTC),
        paris(2024, 4, 1, 2).astimezone(UTC),
    ]
    assert ticks == [utc(2024, 3, 30, 1), utc(2024, 3, 31, 1), utc(2024, 4, 1, 0)]


def test_daily_schedule_across_fall_back_fires_once_not_at_both_two_oclocks() -> None:
    # 2024-10-27 02:00-02:59 happens twice in Paris (CEST then CET); a daily job must run once.
    ticks = due_ticks("0 2 * * *", "Europe/Paris", utc(2024, 10, 25, 12), utc(2024, 10, 28, 12), catchup=True)
    assert ticks == [utc(2024, 10, 26, 0), utc(2024, 10, 27, 0), utc(2024, 10, 28, 1)]


def test_latest_tick_during_fall_back_is_the_first_two_oclock() -> None:
    # Just after the second 02:00 (01:00 UTC) the newest tick is still the first one.
    now = paris(2024, 10, 27, 2, 5, fold=1).astimezone(UTC)
    assert now == utc(2024, 10, 27, 1, 5)
    assert due_ticks("0 2 * * *", "Europe/Paris", None, now, catchup=False) == [utc(2024, 10, 27, 0)]
    assert due_ticks("0 2 * * *", "Europe/Paris", utc(2024, 10, 27, 0), now, catchup=False) == []


def test_hourly_schedule_across_fall_back_fires_every_real_hour() -> None:
    ticks = due_ticks("30 * * * *", "Europe/Paris", utc(2024, 10, 26, 23), utc(2024, 10, 27, 3), catchup=True)
    assert ticks == [
        utc(2024, 10, 26, 23, 30),
        utc(2024, 10, 27, 0, 30),
        utc(2024, 10, 27, 1, 30),
        utc(2024, 10, 27, 2, 30),
    ]
    local = [tick.astimezone(PARIS).strftime("%H:%M%z") for tick in ticks]
    assert local == ["01:30+0200", "02:30+0200", "02:30+0100", "03:30+0100"]


def test_hourly_schedule_across_spring_forward_has_no_tick_in_the_missing_hour() -> None:
    ticks = due_ticks("30 * * * *", "Europe/Paris", utc(2024, 3, 30, 23), utc(2024, 3, 31, 3), catchup=True)
    local = [tick.astimezone(PARIS).strftime("%H:%M%z") for tick in ticks]
    assert local == ["00:30+0100", "01:30+0100", "03:30+0200", "04:30+0200"]
    assert [b - a for a, b in pairwise(ticks)] == [timedelta(hours=1)] * 3


def test_ticks_are_strictly_increasing_across_a_whole_dst_year() -> None:
    for expression in ("0 2 * * *", "*/30 * * * *", "15 1-3 * * *"):
        ticks = due_ticks(
            expression, "Europe/Paris", utc(2023, 12, 31), utc(2025, 1, 1), catchup=True, limit=20_000
        )
        assert all(a < b for a, b in pairwise(ticks))
        assert all(tick.tzinfo is UTC for tick in ticks)


def test_daily_paris_schedule_fires_exactly_once_per_local_day_for_a_year() -> None:
    ticks = due_ticks("0 2 * * *", "Europe/Paris", utc(2023, 12, 31, 12), utc(2024, 12, 31, 12), catchup=True)
    days = [tick.astimezone(PARIS).date() for tick in ticks]
    assert len(days) == 366 == len(set(days))


@settings(max_examples=100, deadline=None)
@given(
    expression=st.sampled_from(["0 2 * * *", "*/15 * * * *", "30 * * * *", "0 0 1 * *", "5 4 * * SUN"]),
    zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
    last=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
)
def test_without_catchup_the_tick_is_the_last_of_the_catchup_ticks(
    expression: str, zone: str, last: datetime, span: timedelta
) -> None:
    now = last + span
    every = due_ticks(expression, zone, last, now, catchup=True, limit=100_000)
    assert all(last < tick <= now for tick in every)
    assert due_ticks(expression, zone, last, now, catchup=False) == every[-1:]
