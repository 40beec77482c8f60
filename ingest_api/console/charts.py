"""Chart geometry for the overview: bar charts as SVG rectangles, computed here so the
templates only draw them (no chart library, nothing loaded from elsewhere, no inline style)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 600  # the SVG's user units; it scales to the card's width
HEIGHT = 160
LABEL_WIDTH = 230  # horizontal bars: room for the category on the left


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    css: str  # the series' class (its colour)
    title: str  # the exact figure, shown on hover and read by screen readers


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rects: tuple[Rect, ...]
    labels: tuple[Label, ...]
    # no value above zero: the template says so instead of drawing nothing
    empty: bool


def stacked_columns(
    rows: Sequence[Mapping[str, object]],
    *,
    x: str,
    series: Sequence[tuple[str, str, str]],  # (column, css class, name)
) -> Chart:
    """One column per row (a day), its series stacked, scaled to the tallest column."""
    totals = [sum(_number(row.get(column)) for column, _, _ in series) for row in rows]
    top = max(totals, default=0.0)
    plot = HEIGHT - 20  # room for the first and last day under the columns
    step = WIDTH / max(len(rows), 1)
    rects: list[Rect] = []
    for index, row in enumerate(rows):
        base: float = plot
        for column, css, name in series:
            value = _number(row.get(column))
            if value <= 0 or top <= 0:
                continue
            height = value / top * (plot - 4)
            base -= height
            rects.append(
                Rect(
                    x=round(index * step + step * 0.1, 2),
                    y=round(base, 2),
                    width=round(step * 0.8, 2),
                    height=round(height, 2),
                    css=css,
                    title=f"{row.get(x)}: {_figure(value)} {name}",
                )
            )
    labels: list[Label] = []
    if rows:
        labels.append(Label(0, HEIGHT - 4, str(rows[0].get(x))))
        labels.append(Label(WIDTH, HEIGHT - 4, str(rows[-1].get(x)), anchor="end"))
    if top > 0:
        labels.append(Label(WIDTH, 12, f"max {_figure(top)}", anchor="end"))
    return Chart(WIDTH, HEIGHT, tuple(rects), tuple(labels), empty=top <= 0)


def horizontal_bars(
    rows: Sequence[Mapping[str, object]],
    *,
    label: Sequence[str],  # the columns naming a bar, joined
    value: str,
    unit: str,
    css: str = "bar",
) -> Chart:
    """One bar per row, scaled to the longest; its figure written after it."""
    values = [_number(row.get(value)) for row in rows]
    top = max(values, default=0.0)
    bar_height = 26
    height = max(bar_height * len(rows) + 8, 30)
    span = WIDTH - LABEL_WIDTH - 100  # room for the figure after the longest bar
    rects: list[Rect] = []
    labels: list[Label] = []
    for index, (row, amount) in enumerate(zip(rows, values, strict=True)):
        name = " · ".join(str(row.get(column)) for column in label)
        y = 4 + index * bar_height
        width = amount / top * span if top > 0 else 0.0
        figure = "—" if row.get(value) is None else f"{_figure(amount)} {unit}"
        rects.append(
            Rect(LABEL_WIDTH, y + 3, round(width, 2), bar_height - 8, css, f"{name}: {figure}")
        )
        labels.append(Label(LABEL_WIDTH - 6, y + 17, name, anchor="end"))
        labels.append(Label(LABEL_WIDTH + width + 6, y + 17, figure))
    return Chart(WIDTH, height, tuple(rects), tuple(labels), empty=top <= 0)


def _number(value: object) -> float:
    if value is None:
        return 0.0
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def _figure(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.1f}" if value >= 10 else f"{value:,.2f}"
