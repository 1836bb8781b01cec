"""The HTML report: self-contained, with contributions, history and charts."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from interbank.rating.report import render_report

from .conftest import BIC, Staff, rate, report


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href")]


def test_report_shows_rating_contributions_history_and_charts(staff: Staff) -> None:
    rate(staff, [report(reporting_date="2024-12-31")])
    rate(staff, [report(problem_loans="400.00", camels_management=3, camels_composite=2)])
    page = render_report(staff.agency.state, BIC, "2026-01-05")
    assert "CAMELS: M 3, composite 2." in page
    parser = _Tags()
    parser.feed(page)
    assert parser.tags.count("svg") == 2
    assert parser.urls == []  # no request of any kind: no src, no href
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert "BBB-" in page and "A-" in page  # the current grade and the earlier one
    assert "Factor contributions" in page and "asset risk" in page
    assert "S&amp;P Global Ratings, 2024 Annual Global Corporate Default" in page
    assert page.count("<tr><td>2026-01-05</td>") == 2  # both decisions in the history


def test_report_escapes_bank_text(staff: Staff) -> None:
    rate(staff, [report(name="<script>alert(1)</script>")])
    page = render_report(staff.agency.state, BIC)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_report_of_an_unrated_bank(staff: Staff) -> None:
    staff.agency.add_financials(staff.analyst, [report()])
    page = render_report(staff.agency.state, BIC)
    assert "Not rated." in page and "not a rating" in page
