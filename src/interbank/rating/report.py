"""The rating report of one bank: one self-contained HTML page.

It shows the current rating and what made it (factor contributions, the notching
steps), every rating the bank has had with its effective date and method version, a
chart of the grade over time, and the controls last applied. The charts are inline
SVG and the styles inline CSS: the page makes no request of any kind, so it can be
mailed, archived or opened offline, and it shows the same thing forever.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from interbank.money import format_amount
from interbank.rating.committee import AgencyState, Decision
from interbank.rating.method import load_method
from interbank.rating.scale import GRADES, NOTCH_DEFAULT
from interbank.rating.scorecard import Adjustments, Scorecard, decimal_text, score_bank

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#1b1b1b}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .6em;border-bottom:1px solid #e4e4e4;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.grade{font-size:2.4em;font-weight:700}.muted{color:#666}.watch{color:#a33;font-weight:600}
.summary{display:flex;gap:2.5em;align-items:baseline;flex-wrap:wrap}
"""


def render_report(state: AgencyState, bic: str, generated_at: str = "") -> str:
    """The report of ``bic`` as HTML text."""
    bic = bic.strip().upper()
    history = state.history(bic)
    current = history[-1] if history else None
    card = _scorecard_of(state, current) if current else _unrated_scorecard(state, bic)
    name = card.name if card else bic
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f"<title>Rating report: {escape(name)} ({escape(bic)})</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{escape(name)} <span class=muted>{escape(bic)}</span></h1>",
        f"<p class=muted>{escape(state.agency_name)}"
        + (f" · generated {escape(generated_at)}" if generated_at else "")
        + "</p>",
    ]
    if current is None:
        parts.append("<p><strong>Not rated.</strong> No rating has been decided for this bank.</p>")
    else:
        assert card is not None  # a decided rating always has its scorecard
        parts.append(_summary(state, current, card))
    if card is not None:
        parts.append(_factors(card, current is None))
        parts.append(_steps(card))
    parts.append(_history(history))
    parts.append(_controls(state, bic))
    parts.append(_sources(current.method_version if current else "1"))
    parts.append("</body></html>")
    return "\n".join(parts)


def _scorecard_of(state: AgencyState, decision: Decision) -> Scorecard:
    """The decided rating's scorecard, recomputed from what the proposal recorded."""
    proposal = state.proposals[decision.proposal_seq]
    reports = [state.financials[(decision.bic, d)] for d in proposal.reporting_dates]
    notches = {str(k): int(v) for k, v in dict(proposal.body.get("adjustments", {})).items()}
    return score_bank(load_method(decision.method_version), reports, Adjustments.of(notches))


def _unrated_scorecard(state: AgencyState, bic: str) -> Scorecard | None:
    reports = state.reports_of(bic)
    return score_bank(load_method("1"), reports) if reports else None


def _camels_text(state: AgencyState, decision: Decision) -> str:
    """The supervisor's CAMELS scores of the rated report, where given."""
    proposal = state.proposals[decision.proposal_seq]
    camels = state.financials[(decision.bic, proposal.reporting_dates[-1])].camels
    parts = [
        f"{letter} {score}"
        for letter, score in zip(
            "CAMELS",
            (camels.capital, camels.asset_quality, camels.management, camels.earnings,
             camels.liquidity, camels.sensitivity),
            strict=True,
        )
        if score is not None
    ]  # fmt: skip
    if camels.composite is not None:
        parts.append(f"composite {camels.composite}")
    return f" CAMELS: {', '.join(parts)}." if parts else ""


def _summary(state: AgencyState, decision: Decision, card: Scorecard) -> str:
    watch = "<span class=watch>on watch</span>" if decision.watch else "not on watch"
    return (
        "<h2>Current rating</h2><div class=summary>"
        f"<div class=grade>{escape(decision.grade.letters)}</div>"
        f"<div>outlook <strong>{escape(decision.outlook)}</strong><br>{watch}</div>"
        f"<div>probability of default (1 year) <strong>{escape(decision.pd_pct)}%</strong><br>"
        f"credit quality step {card.cqs if card.cqs is not None else '—'}</div>"
        f"<div>effective {escape(decision.effective_on)}<br>method version {escape(decision.method_version)}</div>"
        f"<div>score <strong>{decimal_text(card.score)}</strong> of 100<br>"
        f"votes {decision.approvals} for, {decision.rejections} against</div></div>"
        f"<p class=muted>Financials of {escape(card.reporting_date)} in {escape(card.currency)}."
        + _camels_text(state, decision)
        + "".join(f" {escape(n)}." for n in card.notes)
        + (f" Watch: {escape('; '.join(card.watch_reasons))}." if card.watch_reasons else "")
        + "</p>"
    )


def _factors(card: Scorecard, preliminary: bool) -> str:
    rows = []
    for f in card.factors:
        mean = "—" if f.ratio_mean_pct is None else f"{decimal_text(f.ratio_mean_pct)}%"
        rows.append(
            f"<tr><td>{escape(f.title)}</td><td class=n>{decimal_text(f.ratio_latest_pct)}%</td>"
            f"<td class=n>{mean}</td><td class=n>{decimal_text(f.points)}</td>"
            f"<td class=n>{f.weight_pct}%</td><td class=n>{decimal_text(f.contribution)}</td></tr>"
        )
    title = "Scorecard (not a rating: no decision yet)" if preliminary else "Factor contributions"
    return (
        f"<h2>{title}</h2>"
        + _contribution_chart(card)
        + "<table><tr><th>factor</th><th class=n>latest ratio</th><th class=n>mean ratio</th>"
        "<th class=n>points</th><th class=n>weight</th><th class=n>contribution</th></tr>"
        + "".join(rows)
        + f"<tr><th>score</th><td></td><td></td><td></td><td></td><th class=n>{decimal_text(card.score)}</th></tr>"
        + "</table>"
    )


def _contribution_chart(card: Scorecard) -> str:
    """Horizontal bars: each factor's contribution against its weight (the most it can give)."""
    row_px, label_px, bar_px = 26, 170, 420
    height = row_px * len(card.factors) + 10
    shapes = []
    for i, f in enumerate(card.factors):
        y = 5 + i * row_px
        full = bar_px * f.weight_pct // 40  # 40 points: above the largest weight, for scale
        got = int(bar_px * f.contribution / 40)
        shapes.append(
            f'<text x="{label_px - 8}" y="{y + 15}" text-anchor="end">{escape(f.key.replace("_", " "))}</text>'
            f'<rect x="{label_px}" y="{y + 3}" width="{full}" height="16" fill="#e6e6e6"/>'
            f'<rect x="{label_px}" y="{y + 3}" width="{got}" height="16" fill="#2f6f9f"/>'
            f'<text x="{label_px + full + 6}" y="{y + 15}">{decimal_text(f.contribution)} of {f.weight_pct}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{label_px + bar_px + 110}" '
        f'height="{height}" font-size="12" font-family="system-ui,sans-serif">'
        "<title>Factor contributions to the score</title>" + "".join(shapes) + "</svg>"
    )


def _steps(card: Scorecard) -> str:
    rows = [
        f"<tr><td>anchor from score {decimal_text(card.score)}</td><td></td><td>{card.anchor_grade}</td></tr>"
    ]
    for step in card.steps:
        rows.append(
            f"<tr><td>{escape(step.label)}</td><td class=n>{step.notches:+d}</td><td>{step.grade}</td></tr>"
        )
    return (
        "<h2>From score to grade</h2><table><tr><th>step</th><th class=n>notches</th><th>grade</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _history(history: Sequence[Decision]) -> str:
    if not history:
        return "<h2>Rating history</h2><p>None yet.</p>"
    rows = "".join(
        f"<tr><td>{escape(d.effective_on)}</td><td><strong>{escape(d.grade.letters)}</strong></td>"
        f"<td>{escape(d.outlook)}</td><td>{'yes' if d.watch else 'no'}</td>"
        f"<td class=n>{escape(d.score)}</td><td class=n>{escape(d.pd_pct)}%</td>"
        f"<td>{escape(d.method_version)}</td><td class=n>{d.approvals}–{d.rejections}</td>"
        f"<td>{escape(d.decided_by)}</td><td class=n>{d.seq}</td></tr>"
        for d in reversed(history)
    )
    return (
        "<h2>Rating history</h2>"
        + _history_chart(history)
        + "<table><tr><th>effective</th><th>grade</th><th>outlook</th><th>watch</th>"
        "<th class=n>score</th><th class=n>PD</th><th>method</th><th class=n>votes</th>"
        "<th>decided by</th><th class=n>record</th></tr>" + rows + "</table>"
    )


def _history_chart(history: Sequence[Decision]) -> str:
    """The grade as a step line over the decisions, best grades at the top."""
    width, height, left, top, bottom = 640, 220, 48, 12, 28
    notches = [d.grade.notch for d in history]
    low, high = max(1, min(notches) - 2), min(NOTCH_DEFAULT, max(notches) + 2)
    span = max(1, high - low)
    step_x = (width - left - 20) / max(1, len(history))

    def y_of(notch: int) -> float:
        return top + (notch - low) * (height - top - bottom) / span

    shapes = []
    for notch in range(low, high + 1):
        y = y_of(notch)
        shapes.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{GRADES[notch - 1]}</text>'
        )
    points = []
    for i, decision in enumerate(history):
        x0, x1 = left + i * step_x, left + (i + 1) * step_x
        y = y_of(decision.grade.notch)
        points += [f"{x0:.1f},{y:.1f}", f"{x1:.1f},{y:.1f}"]
        shapes.append(
            f'<circle cx="{x0:.1f}" cy="{y:.1f}" r="3.5" fill="#2f6f9f"/>'
            f'<text x="{x0:.1f}" y="{height - 8}" font-size="10">{escape(decision.effective_on)}</text>'
        )
    shapes.append(
        f'<polyline fill="none" stroke="#2f6f9f" stroke-width="2" points="{" ".join(points)}"/>'
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        'font-size="11" font-family="system-ui,sans-serif"><title>Grade over time</title>'
        + "".join(shapes)
        + "</svg>"
    )


def _controls(state: AgencyState, bic: str) -> str:
    mine = [e for e in state.enforcements if e.body.get("bic") == bic]
    if not mine:
        return "<h2>Risk controls in the network</h2><p>None applied yet.</p>"
    last = mine[-1].body
    rows = []
    for target, account in zip(last.get("targets", []), last.get("accounts", []), strict=False):
        code = target.get("currency", "")
        cap = target.get("net_debit_cap_minor")

        def money(value: object, code: str = code) -> str:
            return format_amount(value, code) if isinstance(value, int) else "—"

        rows.append(
            f"<tr><td class=n>{target.get('account_id')}</td><td>{escape(code)}</td>"
            f"<td class=n>{money(target.get('collateral_minor'))}</td>"
            f"<td class=n>{money(target.get('collateral_after_haircuts_minor'))}</td>"
            f"<td class=n>{money(cap)}</td><td class=n>{money(target.get('credit_line_target_minor'))}</td>"
            f"<td class=n>{money(account.get('line_set_minor'))}</td><td>{escape(str(account.get('note', '')))}</td></tr>"
        )
    action = last.get("participant_action") or "none"
    return (
        f"<h2>Risk controls in the network</h2><p class=muted>Round {last.get('round')} of decision "
        f"record {last.get('decision_seq')}; participant action: {escape(action)}.</p>"
        "<table><tr><th class=n>account</th><th>currency</th><th class=n>collateral</th>"
        "<th class=n>after haircuts</th><th class=n>net debit cap</th><th class=n>target line</th>"
        "<th class=n>line set</th><th>state</th></tr>" + "".join(rows) + "</table>"
    )


def _sources(version: str) -> str:
    method = load_method(version)
    floor = decimal_text(method.pd_floor_pct)
    return (
        "<h2>Method and sources</h2><ul>"
        f"<li>Method version {escape(method.version)}, published {escape(method.published_on)}: "
        "see docs/rating-method.md.</li>"
        f"<li>Probability of default: {escape(method.pd_source)}; floored at {floor}% "
        f"({escape(method.pd_floor_source)}).</li>"
        f"<li>Credit quality steps: {escape(method.cqs_source)}.</li>"
        f"<li>Haircuts: {escape(method.haircut_source)}.</li></ul>"
    )
