"""Charts drawn on the server: the geometry of small SVG line charts, for a
template to draw (no JavaScript, no chart library)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# Steps the y axis may use, times a power of ten.
_NICE = (1, 2, 2.5, 3, 4, 5, 6, 8, 10)


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str
    value: Decimal


@dataclass(frozen=True)
class Series:
    name: str
    # CSS class of the line and its points (colour from the stylesheet).
    css: str
    # SVG path data, one ``M…L…`` run per stretch of defined values.
    path: str
    points: list[Point]


@dataclass(frozen=True)
class Tick:
    at: float
    text: str


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    right: int
    bottom: int
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]

    @property
    def plot_width(self) -> int:
        return self.right - self.left

    @property
    def center_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def center_y(self) -> float:
        return (self.top + self.bottom) / 2

    @property
    def empty(self) -> bool:
        """True when no series has a single defined value."""
        return not any(s.points for s in self.series)


def nice_ceiling(value: float, ticks: int = 4) -> tuple[float, float]:
    """An axis maximum ≥ ``value`` and its step, so that ``ticks`` round
    steps cover it (0 → 1 with step 0.25)."""
    if value <= 0:
        return 1.0, 1.0 / ticks
    raw = value / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in _NICE:
        step = factor * magnitude
        if step * ticks >= value:
            return step * ticks, step
    return 10 * magnitude * ticks, 10 * magnitude  # pragma: no cover - 10 always fits


def line_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[Decimal | None]]],
    *,
    width: int = 640,
    height: int = 220,
    ticks: int = 4,
) -> LineChart:
    """A line chart of ``series`` (name, CSS class, one value or None per
    label) over the ``labels`` on the x axis. None leaves a gap in the line.
    The y axis starts at 0."""
    left, top, right, bottom = 40, 12, width - 24, height - 28
    values = [float(v) for _, _, vs in series for v in vs if v is not None]
    y_max, step = nice_ceiling(max(values, default=0.0), ticks)
    n = len(labels)

    def x_at(i: int) -> float:
        return left + (right - left) * (i / (n - 1) if n > 1 else 0.5)

    def y_at(value: float) -> float:
        return bottom - (bottom - top) * value / y_max

    drawn = []
    for name, css, vs in series:
        points: list[Point] = []
        runs: list[list[Point]] = []
        run: list[Point] = []
        for i, value in enumerate(vs):
            if value is None:
                if run:
                    runs.append(run)
                run = []
                continue
            point = Point(round(x_at(i), 1), round(y_at(float(value)), 1), labels[i], value)
            points.append(point)
            run.append(point)
        if run:
            runs.append(run)
        path = " ".join(
            "M" + " L".join(f"{p.x},{p.y}" for p in stretch) for stretch in runs if stretch
        )
        drawn.append(Series(name, css, path, points))
    y_ticks = [Tick(round(y_at(k * step), 1), f"{k * step:g}") for k in range(ticks + 1)]
    x_ticks = [Tick(round(x_at(i), 1), label) for i, label in enumerate(labels)]
    return LineChart(width, height, left, top, right, bottom, drawn, x_ticks, y_ticks)
