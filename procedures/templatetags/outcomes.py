"""The pain-over-time chart as inline SVG: coordinates are worked out here, drawn by
templates/procedures/outcomes/_pain_chart.html (no JavaScript)."""

from datetime import datetime, timedelta, tzinfo

from django import template
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from procedures.models import Instrument, PainSource
from procedures.selectors.outcomes import InstrumentPoint, PainTimeline, TimelinePoint

register = template.Library()

WIDTH, HEIGHT = 800, 320
LEFT, RIGHT, TOP, BOTTOM = 40, 20, 70, 40  # margins; the top one holds the procedure labels
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# The optional instruments get a short chart each under the pain chart, on the same time axis, so a value
# lines up with the pain scores and procedures of its day; different units never share one y axis.
STRIP_HEIGHT, STRIP_TOP, STRIP_BOTTOM = 130, 30, 16
STRIP_PLOT_H = STRIP_HEIGHT - STRIP_TOP - STRIP_BOTTOM
# (low, high, ticks, colour, caption). Lower is better on every chart of the page, pain included.
STRIPS = {
    Instrument.ODI: (
        0,
        100,
        (0, 50, 100),
        "#d63384",
        "Oswestry Disability Index (%) · lower = less disability",
    ),
    Instrument.PGIC: (
        1,
        7,
        (1, 4, 7),
        "#fd7e14",
        "Global impression of change · 1 very much improved · 4 no change · 7 very much worse",
    ),
}


def _procedure_label(appointment) -> str:
    parts = [appointment.procedure_type.name]
    if appointment.levels:
        parts.append(appointment.levels)
    if appointment.side != "midline":
        parts.append(appointment.get_side_display().lower())
    return " · ".join(parts)


@register.inclusion_tag("procedures/outcomes/_pain_chart.html")
def pain_chart(timeline: PainTimeline, instruments: list[InstrumentPoint] | None = None) -> dict:
    instruments = instruments or []
    zone = timezone.get_current_timezone()
    moments = [p.score.recorded_at for p in timeline.points] + [a.start for a in timeline.procedures]
    moments += [p.score.recorded_at for p in instruments]
    if not moments:
        return {"empty": True}
    first, last = min(moments), max(moments)
    if last - first < timedelta(days=1):
        first, last = first - timedelta(hours=12), last + timedelta(hours=12)
    pad = (last - first) * 0.03
    first, last = first - pad, last + pad
    span = (last - first).total_seconds()

    def x(moment: datetime) -> float:
        return round(LEFT + (moment - first).total_seconds() / span * PLOT_W, 1)

    def y(score: int) -> float:
        return round(TOP + (10 - score) / 10 * PLOT_H, 1)

    points = [
        {
            "x": x(p.score.recorded_at),
            "y": y(p.score.score),
            "label_y": y(p.score.score) - 9,
            "score": p.score.score,
            "relief": p.score.percent_relief,
            "title": _point_title(p, zone),
        }
        for p in timeline.points
    ]
    markers = [
        {
            "x": x(a.start),
            "label": _procedure_label(a),
            "when_label": _clock(a.start, zone),
            # Labels alternate between two rows so neighbours overlap less.
            "label_y": TOP - 28 if i % 2 else TOP - 12,
        }
        for i, a in enumerate(timeline.procedures)
    ]
    ticks = [{"y": y(s), "score": s} for s in range(0, 11, 2)]
    strips = [
        _strip(code, [p for p in instruments if p.score.instrument == code], x=x, markers=markers, zone=zone)
        for code in Instrument.values
        if any(p.score.instrument == code for p in instruments)
    ]
    local_first, local_last = timezone.localtime(first + pad), timezone.localtime(last - pad)
    return {
        "empty": False,
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "top": TOP,
        "bottom": HEIGHT - BOTTOM,
        "points": points,
        "points_svg": _points_svg(points),
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in points),
        "markers": markers,
        "ticks": ticks,
        "first": local_first,
        "last": local_last,
        "strips": strips,
    }


def _points_svg(points: list[dict]) -> SafeString:
    """Each pain score's dot (and its relief above it), written here rather than by the template: a
    patient has dozens, and through the template language they were a large share of the page's time.
    The markup is the template's as it was (see tests/test_outcome_views.py)."""
    drawn = []
    for p in points:
        relief = (
            f'<text x="{p["x"]}" y="{p["label_y"]}" text-anchor="middle" fill="#198754">{p["relief"]}%</text>'
            if p["relief"] is not None
            else ""
        )
        drawn.append(
            f"\n  {relief}\n  "
            f'<circle cx="{p["x"]}" cy="{p["y"]}" r="4" fill="#0d6efd" data-testid="pain-point">'
            f"<title>{escape(p['title'])}</title></circle>\n  "
        )
    return mark_safe("".join(drawn))


def _strip(code: str, points: list[InstrumentPoint], *, x, markers: list[dict], zone: tzinfo) -> dict:
    low, high, ticks, colour, caption = STRIPS[code]

    def y(value: int) -> float:
        return round(STRIP_TOP + (high - value) / (high - low) * STRIP_PLOT_H, 1)

    drawn = [
        {
            "x": x(p.score.recorded_at),
            "y": y(p.score.value),
            "label_y": y(p.score.value) - 8,
            "label": f"{p.score.value}%" if code == Instrument.ODI else str(p.score.value),
            "title": p.score.display_value,
            "when_label": _clock(p.score.recorded_at, zone),
        }
        for p in points
    ]
    return {
        "code": code,
        "height": STRIP_HEIGHT,
        "top": STRIP_TOP,
        "bottom": STRIP_HEIGHT - STRIP_BOTTOM,
        "colour": colour,
        "caption": caption,
        "title": f"{Instrument(code).label} over time",
        "ticks": [{"y": y(t), "value": t} for t in ticks],
        "markers": [m["x"] for m in markers],
        "points": drawn,
        "polyline": " ".join(f"{p['x']},{p['y']}" for p in drawn),
    }


# --- The tables beside the chart ---------------------------------------------------------------------
# A patient's timeline has dozens of rows attributed to a few procedures: each row's cells are formatted
# here once (each procedure's label once) instead of through a dozen template lookups and filters a row.

SOURCE_LABELS = dict(PainSource.choices)


def _clock(moment: datetime, zone: tzinfo) -> str:
    """As the date filter's "Y-m-d H:i", in `zone` (the current zone: looked up once per chart or table,
    not per value, where the lookup cost more than the formatting)."""
    return f"{timezone.localtime(moment, zone):%Y-%m-%d %H:%M}"


def _point_title(point: TimelinePoint, zone: tzinfo) -> str:
    score = point.score
    relief = f", {score.percent_relief}% relief" if score.percent_relief is not None else ""
    return f"{_clock(score.recorded_at, zone)}: {score.score}/10{relief}"


def _attributed_label(appointment, zone: tzinfo) -> str:
    """ "Lumbar TFESI L4-L5 (left), 2026-01-05": the attribution column's text."""
    label = appointment.procedure_type.name
    if appointment.levels:
        label += f" {appointment.levels}"
    if appointment.side != "midline":
        label += f" ({appointment.get_side_display().lower()})"
    return f"{label}, {timezone.localtime(appointment.start, zone):%Y-%m-%d}"


@register.simple_tag
def timeline_rows(points: list[TimelinePoint] | list[InstrumentPoint]) -> list[dict]:
    """The pain (or instrument) table's rows: the point, its time and source as shown, and the procedure
    it is attributed to (None for none)."""
    zone = timezone.get_current_timezone()
    labels: dict[int, str] = {}
    rows = []
    for point in points:
        procedure = point.procedure
        attributed = None
        if procedure is not None:
            attributed = labels.get(procedure.pk)
            if attributed is None:
                attributed = labels[procedure.pk] = _attributed_label(procedure, zone)
        source = point.score.source
        rows.append(
            {
                "point": point,
                "score": point.score,
                "when": _clock(point.score.recorded_at, zone),
                "source": SOURCE_LABELS.get(source, source),
                "attributed": attributed,
                "most_recent": point.attribution == "most recent",
            }
        )
    return rows


@register.simple_tag
def pain_table_rows(points: list[TimelinePoint]) -> SafeString:
    """The pain table's rows as HTML ("" for none), written here for the reason _points_svg is."""
    drawn = []
    for row in timeline_rows(points):
        score = row["score"]
        relief = "—" if score.percent_relief is None else f"{score.percent_relief}%"
        attributed = "—"
        if row["attributed"] is not None:
            attributed = escape(row["attributed"])
            if row["most_recent"]:
                attributed += ' <span class="badge text-bg-light">most recent</span>'
        drawn.append(
            '\n          <tr data-testid="pain-row">'
            f'\n            <td class="text-nowrap">{escape(row["when"])}</td>'
            f"\n            <td>{score.score}/10</td>"
            f"\n            <td>{relief}</td>"
            f"\n            <td>{escape(row['source'])}</td>"
            f"\n            <td>{attributed}</td>"
            "\n          </tr>\n        "
        )
    return mark_safe("".join(drawn))
