from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.errors import UsageError
from scheduler.partitions import key_for_time, list_values, partition_range, validate_key

# --- validate_key -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        ("daily", "2024-02-29", "2024-02-29"),
        ("daily", " 2024-01-05 ", "2024-01-05"),
        ("hourly", "2024-01-05T07", "2024-01-05T07"),
        ("hourly", "2024-01-05 07", "2024-01-05T07"),
        ("hourly", "2024-01-05t23", "2024-01-05T23"),
        ("monthly", "2024-12", "2024-12"),
        ("list", "eu-west", "eu-west"),
    ],
)
def test_validate_key_returns_the_normalised_key(kind: str, key: str, expected: str) -> None:
    assert validate_key(kind, key) == expected


@pytest.mark.parametrize(
    ("kind", "key"),
    [
        ("daily", "2024-13-01"),
        ("daily", "2023-02-29"),
        ("daily", "2024-04-31"),
        ("daily", "2024-1-5"),
        ("daily", "20240105"),
        ("daily", "2024-01-05T00"),
        ("daily", "0000-01-01"),
        ("daily", "２０２４-01-01"),
        ("daily", ""),
        ("hourly", "2024-01-05T24"),
        ("hourly", "2024-01-05"),
        ("hourly", "2024-01-05T7"),
        ("hourly", "2024-01-05T07:00"),
        ("monthly", "2024-00"),
        ("monthly", "2024-13"),
        ("monthly", "2024-01-01"),
        ("list", ""),
    ],
)
def test_validate_key_rejects_malformed_keys(kind: str, key: str) -> None:
    with pytest.raises(UsageError, match=f"is not an? {kind} partition"):
        validate_key(kind, key)


def test_validate_key_error_names_the_argument_the_value_and_the_format() -> None:
    with pytest.raises(UsageError) as caught:
        validate_key("daily", "2024-13-01", arg_name="--from")
    assert str(caught.value) == "--from '2024-13-01' is not a daily partition: expected YYYY-MM-DD"


def test_validate_key_rejects_an_unknown_kind_listing_the_known_ones() -> None:
    with pytest.raises(
        UsageError, match="'weekly' is not supported: expected one of daily, hourly, monthly, list"
    ):
        validate_key("weekly", "2024-01-01")


def test_validate_key_uses_the_right_article_for_hourly() -> None:
    with pytest.raises(
        UsageError, match="^partition key 'x' is not an hourly partition: expected YYYY-MM-DDTHH$"
    ):
        validate_key("hourly", "x")


def test_validate_key_rejects_a_non_string_key() -> None:
    with pytest.raises(UsageError, match="expected YYYY-MM-DD"):
        validate_key("daily", 20240101)  # type: ignore[arg-type]


# --- partition_range --------------------------------------------------------------------------------


def test_daily_range_is_inclusive_and_oldest_first() -> None:
    assert partition_range("daily", "2024-01-30", "2024-02-02", 10) == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-02-02",
    ]


def test_daily_range_includes_leap_day() -> None:
    assert partition_range("daily", "2024-02-28", "2024-03-01", 10) == [
        "2024-02-28",
        "2024-02-29",
        "2024-03-01",
    ]


def test_daily_range_skips_the_missing_leap_day_of_a_common_year() -> None:
    assert partition_range("daily", "2023-02-28", "2023-03-01", 10) == ["2023-02-28", "2023-03-01"]


def test_daily_range_crosses_month_ends_of_every_length() -> None:
    keys = partition_range("daily", "2024-01-01", "2024-12-31", 1000)
    assert len(keys) == 366
    for last_day in ("2024-01-31", "2024-02-29", "2024-04-30", "2024-06-30", "2024-12-31"):
        assert last_day in keys
    assert "2024-04-31" not in keys


def test_daily_range_crosses_a_year_boundary() -> None:
    assert partition_range("daily", "2023-12-31", "2024-01-01", 10) == ["2023-12-31", "2024-01-01"]


def test_single_partition_range_when_start_equals_end() -> None:
    assert partition_range("monthly", "2024-05", "2024-05", 1) == ["2024-05"]


def test_hourly_range_crosses_a_day_boundary() -> None:
    assert partition_range("hourly", "2024-01-31T22", "2024-02-01T01", 10) == [
        "2024-01-31T22",
        "2024-01-31T23",
        "2024-02-01T00",
        "2024-02-01T01",
    ]


def test_hourly_range_has_24_keys_per_day_including_leap_day() -> None:
    keys = partition_range("hourly", "2024-02-29T00", "2024-02-29T23", 100)
    assert keys == [f"2024-02-29T{hour:02d}" for hour in range(24)]


def test_monthly_range_crosses_a_year_boundary() -> None:
    assert partition_range("monthly", "2023-11", "2024-02", 10) == [
        "2023-11",
        "2023-12",
        "2024-01",
        "2024-02",
    ]


def test_range_normalises_its_endpoints() -> None:
    assert partition_range("hourly", " 2024-01-01 23", "2024-01-02t00", 10) == [
        "2024-01-01T23",
        "2024-01-02T00",
    ]


def test_range_rejects_start_after_end_naming_both_arguments() -> None:
    with pytest.raises(UsageError) as caught:
        partition_range("daily", "2024-02-01", "2024-01-01", 100)
    assert str(caught.value) == "--from 2024-02-01 is after --to 2024-01-01"


def test_range_uses_the_given_argument_names() -> None:
    with pytest.raises(UsageError, match="^--start '2024-13' is not a monthly partition: expected YYYY-MM$"):
        partition_range("monthly", "2024-13", "2024-12", 100, arg_names=("--start", "--end"))
    with pytest.raises(UsageError, match="^--end 'x' is not a monthly partition"):
        partition_range("monthly", "2024-01", "x", 100, arg_names=("--start", "--end"))


def test_range_rejects_list_kind() -> None:
    with pytest.raises(UsageError, match="list partitions have no order to range over"):
        partition_range("list", "a", "b", 100)


def test_range_rejects_unknown_kind() -> None:
    with pytest.raises(UsageError, match="not supported"):
        partition_range("yearly", "2024", "2025", 100)


def test_range_at_exactly_the_cap_is_allowed() -> None:
    assert len(partition_range("daily", "2024-01-01", "2024-01-10", 10)) == 10


def test_range_over_the_cap_is_rejected_with_count_cap_and_remedy() -> None:
    with pytest.raises(UsageError) as caught:
        partition_range("daily", "2024-01-01", "2024-01-11", 10)
    message = str(caught.value)
    assert "--from 2024-01-01 --to 2024-01-11 would create 11 daily partitions" in message
    assert "more than the cap of 10" in message
    assert "narrow the range or raise max_partitions" in message


def test_a_thousand_year_hourly_range_fails_fast_on_the_cap() -> None:
    hours = (date(2024, 1, 1) - date(1024, 1, 1)).days * 24 + 1
    started = time.perf_counter()
    with pytest.raises(
        UsageError, match=f"would create {hours:,} hourly partitions, more than the cap of 50,000"
    ):
        partition_range("hourly", "1024-01-01T00", "2024-01-01T00", 50_000)
    # Generating ~8.8 million keys would take seconds; counting them is instant.
    assert time.perf_counter() - started < 0.5


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 1, 1)), st.integers(0, 364))
def test_daily_range_matches_stepping_a_date(first: date, days: int) -> None:
    last = first + timedelta(days=days)
    expected = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
    assert partition_range("daily", first.isoformat(), last.isoformat(), 1000) == expected


# --- list_values ------------------------------------------------------------------------------------


def test_list_values_none_means_all_declared_values_in_declared_order() -> None:
    assert list_values(["us", "eu", "apac"], None) == ["us", "eu", "apac"]


def test_list_values_drops_duplicate_declared_values_keeping_the_first() -> None:
    assert list_values(["us", "eu", "us", "apac", "eu"], None) == ["us", "eu", "apac"]


def test_list_values_returns_the_requested_subset_in_requested_order_without_duplicates() -> None:
    assert list_values(["us", "eu", "apac"], ["apac", "us", "apac"]) == ["apac", "us"]


def test_list_values_empty_request_selects_nothing() -> None:
    assert list_values(["us", "eu"], []) == []


def test_list_values_rejects_unknown_values_naming_them_and_the_declared_ones() -> None:
    with pytest.raises(UsageError) as caught:
        list_values(["us", "eu"], ["eu", "mars", "venus", "mars"])
    message = str(caught.value)
    assert "unknown partition values 'mars', 'venus'" in message
    assert "'us', 'eu'" in message


def test_list_values_error_for_one_unknown_value_is_singular() -> None:
    with pytest.raises(UsageError, match="^unknown partition value 'EU':"):
        list_values(["us", "eu"], ["EU"])


def test_list_values_error_abbreviates_a_long_declared_list() -> None:
    declared = [f"v{n}" for n in range(100)]
    with pytest.raises(UsageError, match="and 80 more$"):
        list_values(declared, ["nope"])


# --- key_for_time -----------------------------------------------------------------------------------


def test_key_for_time_daily_is_the_date_in_the_moments_own_zone() -> None:
    # 23:30 UTC on the 5th is already the 6th in Paris.
    moment = datetime(2024, 1, 5, 23, 30, tzinfo=UTC)
    assert key_for_time("daily", moment) == "2024-01-05"
    assert key_for_time("daily", moment.astimezone(ZoneInfo("Europe/Paris"))) == "2024-01-06"


def test_key_for_time_hourly_and_monthly() -> None:
    moment = datetime(2024, 2, 29, 7, 59, tzinfo=timezone(timedelta(hours=-5)))
    assert key_for_time("hourly", moment) == "2024-02-29T07"
    assert key_for_time("monthly", moment) == "2024-02"


def test_key_for_time_keys_are_valid_keys() -> None:
    moment = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
    for kind in ("daily", "hourly", "monthly"):
        key = key_for_time(kind, moment)
        assert validate_key(kind, key) == key


def test_key_for_time_rejects_list_kind() -> None:
    with pytest.raises(UsageError, match="list partitions cannot be scheduled by time"):
        key_for_time("list", datetime(2024, 1, 1, tzinfo=UTC))


def test_key_for_time_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        key_for_time("daily", datetime(2024, 1, 1))


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 1)), st.integers(0, 24 * 40))
def test_hourly_range_matches_stepping_an_hour(first: datetime, hours: int) -> None:
    first = first.replace(minute=0, second=0, microsecond=0)
    last = first + timedelta(hours=hours)
    expected = [_hour_key(first + timedelta(hours=n)) for n in range(hours + 1)]
    got = partition_range("hourly", _hour_key(first), _hour_key(last), 10_000)
    assert got == expected


def _hour_key(moment: datetime) -> str:
    # Not strftime("%Y"): glibc does not zero-pad years before 1000.
    return f"{moment.date().isoformat()}T{moment.hour:02d}"
