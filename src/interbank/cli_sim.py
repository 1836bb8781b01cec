"""``interbank simulate SCENARIO.toml``: a scenario's business day through the engine.

Hooked into ``cli.py`` with one block at its end; the engine and the simulator are
imported inside the command so that ``--help`` answers at once. Writes a table (or,
with ``--json``, one JSON object on the last line) and, with ``--out DIR``, ``report.json``
and ``report.html``: one self-contained file, charts as inline SVG, no external
requests. ``--compare OTHER.toml`` runs a second scenario and shows both side by side.

Exit codes: 0 the day ran; 2 the scenario is invalid (the message names the field).
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from interbank.sim.simulate import SimReport

EXIT_USAGE = 2
_ROWS = (
    ("settled count", "settled_count"),
    ("settled value", "settled_value_minor"),
    ("unsettled count", "unsettled_count"),
    ("unsettled value", "unsettled_value_minor"),
    ("delay median (s)", "delay_median_s"),
    ("delay p95 (s)", "delay_p95_s"),
    ("liquidity used", "liquidity_used_minor"),
    ("lower bound (net)", "lower_bound_minor"),
    ("upper bound (on arrival)", "upper_bound_minor"),
    ("used / lower bound", "liquidity_vs_lower_bound"),
    ("used / upper bound", "liquidity_vs_upper_bound"),
    ("queue max", "queue_max"),
    ("LSM runs", "lsm_runs"),
)


def simulate_command(
    scenario: Annotated[Path, typer.Argument(help="The scenario file (TOML).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, last line.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write report.json and report.html here.")
    ] = None,
    compare: Annotated[
        Path | None, typer.Option("--compare", help="A second scenario, shown side by side.")
    ] = None,
) -> None:
    """Run a scenario's business day through the engine at full speed and report it."""
    from interbank.sim.scenario import ScenarioError, load_scenario
    from interbank.sim.simulate import simulate

    reports = []
    for path in [scenario, *([compare] if compare else [])]:
        try:
            reports.append(simulate(load_scenario(path)))
        except ScenarioError as error:
            Console(stderr=True).print(f"interbank simulate: {error}", markup=False)
            raise typer.Exit(EXIT_USAGE) from None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        data = [r.as_dict() for r in reports]
        (out / "report.json").write_text(json.dumps(data if compare else data[0], indent=1))
        (out / "report.html").write_text(render_html(reports), encoding="utf-8")
    if as_json:
        payload = [r.as_dict() for r in reports]
        print(json.dumps(payload if compare else payload[0], separators=(",", ":")))
        return
    table = Table(title="interbank simulate (amounts in minor units)")
    table.add_column("figure")
    for r in reports:
        table.add_column(f"{r.name} (LSM {'on' if r.lsm else 'off'})", justify="right")
    totals = [r.totals() for r in reports]
    for label, key in _ROWS:
        table.add_row(label, *(_text(t[key]) for t in totals))
    Console().print(table)
    if out is not None:
        Console().print(f"report: {out / 'report.html'}")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if value < 1000 else f"{value:,.0f}"
    return f"{value:,}"


# --- the HTML report ------------------------------------------------------------------------------


def _step_svg(series: list[tuple[str, list[tuple[int, int]]]], day_s: int, title: str) -> str:
    """Queue length over time as step lines, one per series, in inline SVG."""
    w, h, pad = 640, 200, 36
    top = max([1] + [n for _, points in series for _, n in points])
    colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">',
             f'<title>{html.escape(title)}</title>',
             f'<line x1="{pad}" y1="{h - pad}" x2="{w - 8}" y2="{h - pad}" stroke="#888"/>',
             f'<line x1="{pad}" y1="8" x2="{pad}" y2="{h - pad}" stroke="#888"/>',
             f'<text x="4" y="16" font-size="11">{top}</text>',
             f'<text x="{pad}" y="{h - 20}" font-size="11">0 h</text>',
             f'<text x="{w - 40}" y="{h - 20}" font-size="11">{day_s / 3600:.1f} h</text>',
             ]  # fmt: skip
    for k, (name, points) in enumerate(series):

        def x(s: int) -> float:
            return pad + (w - 8 - pad) * min(s, day_s) / day_s

        def y(n: int) -> float:
            return h - pad - (h - pad - 8) * n / top

        path, last = [f"M{x(0):.1f},{y(0):.1f}"], 0
        for s, n in points:
            path.append(f"L{x(s):.1f},{y(last):.1f}L{x(s):.1f},{y(n):.1f}")
            last = n
        path.append(f"L{x(day_s):.1f},{y(last):.1f}")
        colour = colours[k % len(colours)]
        parts.append(f'<path d="{"".join(path)}" fill="none" stroke="{colour}"/>')
        parts.append(f'<text x="{w - 200}" y="{20 + 14 * k}" font-size="11" fill="{colour}">'
                     f"{html.escape(name)}</text>")  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _bars_svg(rows: list[tuple[str, int, int, int]]) -> str:
    """Per participant: liquidity used against the lower and upper bounds (bars)."""
    w, row_h, label = 640, 22, 110
    top = max([1] + [max(a, b, c) for _, a, b, c in rows])
    h = row_h * len(rows) + 24
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img">',
             "<title>liquidity used (blue) against lower (green) and upper (grey) bounds"
             "</title>"]  # fmt: skip
    for k, (bic, used, lower, upper) in enumerate(rows):
        y0 = 4 + k * row_h
        scale = (w - label - 10) / top
        parts.append(f'<text x="2" y="{y0 + 14}" font-size="11">{html.escape(bic)}</text>')
        parts.append(f'<rect x="{label}" y="{y0}" width="{upper * scale:.1f}" height="16" '
                     'fill="#ddd"/>')  # fmt: skip
        parts.append(f'<rect x="{label}" y="{y0 + 4}" width="{used * scale:.1f}" height="8" '
                     'fill="#1f77b4"/>')  # fmt: skip
        parts.append(f'<line x1="{label + lower * scale:.1f}" y1="{y0}" '
                     f'x2="{label + lower * scale:.1f}" y2="{y0 + 16}" stroke="#2ca02c" '
                     'stroke-width="2"/>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)


def _table_html(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(c) if not isinstance(c, str) else c)}</td>"
                         for c in row) + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(reports: list[SimReport]) -> str:
    """One self-contained page: totals side by side, queue chart, per-participant figures."""
    names = [f"{r.name} (LSM {'on' if r.lsm else 'off'})" for r in reports]
    totals = [r.totals() for r in reports]
    sections = [
        "<h2>Totals</h2>",
        _table_html(["figure", *names], [[label, *(t[key] for t in totals)]
                                          for label, key in _ROWS]),
        "<h2>Payments waiting over the day</h2>",
        _step_svg([(n, r.queue) for n, r in zip(names, reports, strict=True)],
                  max(r.day_s for r in reports), "payments waiting"),
    ]  # fmt: skip
    keys = ["settled_count", "settled_value_minor", "unsettled_count", "unsettled_value_minor",
            "delay_median_s", "delay_p95_s", "liquidity_used_minor", "lower_bound_minor",
            "upper_bound_minor", "queue_max"]  # fmt: skip
    for name, r in zip(names, reports, strict=True):
        ps = list(r.participants.values())
        sections.append(f"<h2>{html.escape(name)}: per participant</h2>")
        sections.append(_table_html(
            ["participant", "currency", *keys],
            [[p.bic, p.currency, *(p.as_dict()[k] for k in keys)] for p in ps],
        ))  # fmt: skip
        waiting = [(p.bic, p.queue) for p in ps if any(n for _, n in p.queue)]
        if waiting:
            sections.append("<h3>Payments waiting, by sender</h3>")
            sections.append(_step_svg(waiting, r.day_s, "payments waiting by sender"))
        sections.append("<h3>Liquidity used against the bounds</h3>")
        sections.append(_bars_svg([(p.bic, p.liquidity_used_minor, p.lower_bound_minor,
                                    p.upper_bound_minor) for p in ps]))  # fmt: skip
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}")  # fmt: skip
    title = html.escape(" vs ".join(names))
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{style}</style></head><body><h1>interbank simulate: {title}</h1>"
            f"{''.join(sections)}</body></html>\n")  # fmt: skip
