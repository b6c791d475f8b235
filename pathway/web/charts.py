"""Charts drawn on the server as inline SVG (no script, no style attribute: the CSP allows neither).

One kind is needed: values per category (time points) as lines with markers, an optional 95%
interval drawn as a whisker at each point, and dashed reference lines (the published figures).
Every chart on a page is followed by a table of the same figures, so nothing is only in a picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

WIDTH, HEIGHT = 720, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 44, 46
# Colour-blind-safe (Okabe-Ito), each series also has its own marker shape.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
MARKERS = ("circle", "square", "diamond", "triangle")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    intervals: Sequence[tuple[float, float] | None] = ()


@dataclass(frozen=True)
class Reference:
    value: float
    label: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    categories: Sequence[str]
    series: Sequence[Series]
    y_min: float
    y_max: float
    y_step: float
    unit: str = ""
    references: Sequence[Reference] = field(default_factory=tuple)


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _marker(kind: str, x: float, y: float, colour: str, title: str) -> str:
    t = f"<title>{escape(title)}</title>"
    if kind == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{colour}">{t}</circle>'
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}">{t}</rect>'
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5.5:.1f} {x + 5.5:.1f},{y:.1f} {x:.1f},{y + 5.5:.1f} '
                f'{x - 5.5:.1f},{y:.1f}" fill="{colour}">{t}</polygon>')
    return (f'<polygon points="{x:.1f},{y - 5.5:.1f} {x + 5:.1f},{y + 4:.1f} {x - 5:.1f},{y + 4:.1f}" '
            f'fill="{colour}">{t}</polygon>')


def render(chart: Chart) -> Markup:
    """The chart as an accessible inline SVG (its title and description name what it shows)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = chart.y_max - chart.y_min
    n = max(1, len(chart.categories))
    band = plot_w / n

    def y_of(value: float) -> float:
        clipped = min(max(value, chart.y_min), chart.y_max)
        return TOP + plot_h - (clipped - chart.y_min) / span * plot_h

    def x_of(index: int, offset: float = 0.0) -> float:
        return LEFT + band * (index + 0.5) + offset

    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{chart.id}-t {chart.id}-d" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<title id="{chart.id}-t">{escape(chart.title)}</title>',
           f'<desc id="{chart.id}-d">{escape(chart.description)}</desc>']
    # Grid and y axis.
    steps = round(span / chart.y_step)
    for i in range(steps + 1):
        value = chart.y_min + i * chart.y_step
        y = y_of(value)
        colour = "#6c757d" if abs(value) < 1e-9 else "#dee2e6"
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{colour}" '
                   f'stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="12" fill="#495057">'
                   f'{escape(_fmt(value) + chart.unit)}</text>')
    for i, name in enumerate(chart.categories):
        out.append(f'<text x="{x_of(i):.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle" font-size="12" '
                   f'fill="#212529">{escape(name)}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12" '
               f'fill="#495057">Time after the procedure</text>')
    # Reference lines (published figures).
    labels: list[str] = []
    for ref in chart.references:
        y = y_of(ref.value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#6f42c1" '
                   f'stroke-width="1.5" stroke-dasharray="6 4"/>')
        # Drawn after the series, with a halo in the background's colour: readable where a line crosses.
        labels.append(f'<text x="{WIDTH - RIGHT - 4}" y="{y - 6:.1f}" text-anchor="end" font-size="12" '
                      f'fill="#6f42c1" stroke="#f8f9fa" stroke-width="4" paint-order="stroke">'
                      f'{escape(ref.label)}</text>')
    # Series: whiskers, lines, markers; offset sideways so intervals do not hide each other.
    count = len(chart.series)
    for s_index, series in enumerate(chart.series):
        colour, marker = COLOURS[s_index % len(COLOURS)], MARKERS[s_index % len(MARKERS)]
        offset = (s_index - (count - 1) / 2) * min(12.0, band / (count + 2))
        points: list[tuple[float, float] | None] = []
        for i, maybe in enumerate(series.values):
            if maybe is None:
                points.append(None)
                continue
            x, y = x_of(i, offset), y_of(maybe)
            points.append((x, y))
            interval = series.intervals[i] if i < len(series.intervals) else None
            if interval is not None:
                lo, hi = y_of(interval[0]), y_of(interval[1])
                out.append(f'<line x1="{x:.1f}" y1="{lo:.1f}" x2="{x:.1f}" y2="{hi:.1f}" stroke="{colour}" '
                           f'stroke-width="1.5"/>')
                for yy in (lo, hi):
                    out.append(f'<line x1="{x - 4:.1f}" y1="{yy:.1f}" x2="{x + 4:.1f}" y2="{yy:.1f}" '
                               f'stroke="{colour}" stroke-width="1.5"/>')
        run: list[tuple[float, float]] = []
        for point in [*points, None]:
            if point is not None:
                run.append(point)
                continue
            if len(run) > 1:
                path = " ".join(f"{'M' if j == 0 else 'L'}{x:.1f},{y:.1f}" for j, (x, y) in enumerate(run))
                out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            run = []
        for i, point in enumerate(points):
            if point is None:
                continue
            shown = series.values[i]
            assert shown is not None
            interval = series.intervals[i] if i < len(series.intervals) else None
            words = f"{series.name}, {chart.categories[i]}: {_fmt(shown)}{chart.unit}"
            if interval is not None:
                words += f" (95% interval {_fmt(interval[0])}-{_fmt(interval[1])}{chart.unit})"
            out.append(_marker(marker, point[0], point[1], colour, words))
        # Legend.
        lx = LEFT + s_index * 190
        out.append(_marker(marker, lx + 6, 18, colour, series.name))
        out.append(f'<text x="{lx + 16}" y="22" font-size="13" fill="#212529">{escape(series.name)}</text>')
    out.extend(labels)
    if not any(v is not None for s in chart.series for v in s.values):
        out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
                   f'font-size="14" fill="#6c757d">No figures yet for these filters</text>')
    out.append("</svg>")
    return Markup("".join(out))
