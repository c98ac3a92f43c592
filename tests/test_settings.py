"""Settings: environment defaults, the as-of date and the measurement period."""

from datetime import date

import pytest

from pipelines.settings import (
    DEFAULT_OUT,
    DEFAULT_WAREHOUSE,
    SAMPLE_AS_OF,
    SAMPLE_DIR,
    SettingsError,
    measurement_period,
    parse_as_of,
    settings_from_env,
    warehouse_from_env,
)


def test_defaults_point_at_the_sample():
    settings = settings_from_env({})
    assert settings.input_path == SAMPLE_DIR
    assert settings.out_path == DEFAULT_OUT
    assert warehouse_from_env({}) == str(DEFAULT_WAREHOUSE)
    assert settings.as_of_date() == SAMPLE_AS_OF == date(2026, 9, 30)


def test_environment_overrides_every_default(tmp_path):
    env = {
        "POPCARE_INPUT": str(tmp_path / "in"),
        "POPCARE_OUT": str(tmp_path / "out"),
        "POPCARE_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "POPCARE_AS_OF": "2025-03-31",
        "POPCARE_MEASUREMENT_YEAR": "2024",
    }
    settings = settings_from_env(env)
    assert settings.input_path == tmp_path / "in"
    assert settings.out_path == tmp_path / "out"
    assert warehouse_from_env(env) == str(tmp_path / "w.duckdb")
    assert settings.as_of_date() == date(2025, 3, 31)
    assert settings.period().start == date(2024, 1, 1)
    assert settings.period().end == date(2024, 12, 31)


def test_as_of_defaults_to_today_for_a_user_extract(tmp_path):
    assert parse_as_of("", tmp_path) == date.today()


def test_bad_as_of_names_the_flag_and_variable():
    with pytest.raises(SettingsError, match=r"--as-of.*POPCARE_AS_OF"):
        parse_as_of("2025-02-30", SAMPLE_DIR)


def test_default_period_is_the_calendar_year_containing_as_of():
    period = measurement_period("", date(2026, 9, 30))
    assert (period.start, period.end, period.label) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
        "2026",
    )


def test_rolling_period_is_the_12_months_ending_at_as_of():
    period = measurement_period("rolling", date(2026, 9, 30))
    assert (period.start, period.end) == (date(2025, 10, 1), date(2026, 9, 30))
    leap = measurement_period("rolling", date(2028, 2, 29))
    assert (leap.start, leap.end) == (date(2027, 3, 1), date(2028, 2, 29))


def test_explicit_year():
    period = measurement_period("2024", date(2026, 9, 30))
    assert (period.start, period.end) == (date(2024, 1, 1), date(2024, 12, 31))


def test_bad_measurement_year_is_refused():
    with pytest.raises(SettingsError, match="POPCARE_MEASUREMENT_YEAR"):
        measurement_period("last", date(2026, 9, 30))
