"""The overview's chart geometry, without a stack: scaled to the largest value, stacked in
order, labelled with the exact figures, and honest about having nothing to draw."""

from __future__ import annotations

from ingest_api.console.charts import HEIGHT, LABEL_WIDTH, WIDTH, horizontal_bars, stacked_columns

SERIES = [("ok", "s-succeeded", "succeeded"), ("bad", "s-failed", "failed")]


def test_columns_stack_their_series_and_scale_to_the_tallest_day() -> None:
    chart = stacked_columns(
        [{"day": "2026-12-01", "ok": 3, "bad": 1}, {"day": "2026-12-02", "ok": 8, "bad": 0}],
        x="day",
        series=SERIES,
    )
    assert not chart.empty
    first_ok, first_bad, second_ok = chart.rects
    assert (first_ok.css, first_bad.css, second_ok.css) == (
        "s-succeeded",
        "s-failed",
        "s-succeeded",
    )
    # Day two (8) is the tallest: day one (4) is half its height; its failures sit on top.
    assert second_ok.height == 2 * (first_ok.height + first_bad.height)
    assert first_bad.y + first_bad.height == first_ok.y
    assert second_ok.y + second_ok.height == HEIGHT - 20
    assert first_ok.x < second_ok.x < WIDTH
    assert first_bad.title == "2026-12-01: 1 failed"
    assert [label.text for label in chart.labels] == ["2026-12-01", "2026-12-02", "max 8"]


def test_a_period_with_nothing_is_empty_not_a_division_by_zero() -> None:
    chart = stacked_columns([{"day": "2026-12-01", "ok": 0, "bad": None}], x="day", series=SERIES)
    assert chart.empty and chart.rects == ()
    assert stacked_columns([], x="day", series=SERIES).empty


def test_bars_are_scaled_to_the_longest_and_show_their_figure() -> None:
    chart = horizontal_bars(
        [
            {"workflow": "deal_kickoff", "role": "operator", "p50": 2.0},
            {"workflow": "procurement_approval", "role": "admin", "p50": 8.0},
            {"workflow": "contact_role_mapping", "role": "operator", "p50": None},
        ],
        label=("workflow", "role"),
        value="p50",
        unit="h",
    )
    short, long, missing = chart.rects
    assert long.width == 4 * short.width and missing.width == 0
    assert short.x == LABEL_WIDTH
    texts = [label.text for label in chart.labels]
    assert texts == [
        "deal_kickoff · operator",
        "2 h",
        "procurement_approval · admin",
        "8 h",
        "contact_role_mapping · operator",
        "—",
    ]
    assert long.title == "procurement_approval · admin: 8 h"
    assert horizontal_bars([], label=("x",), value="v", unit="h").empty
