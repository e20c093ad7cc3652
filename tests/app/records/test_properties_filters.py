"""Properties of the dashboard's filters (bot.records.Filters) and search highlighting.

The patient page turns its query string (``q``, ``kind``, ``from``, ``to``) into
:class:`Filters` with :meth:`Filters.parse`, which promises never to fail: what it cannot
use is left out and named in ``problems``. The audit log records which filters were used
but never the search text, which is often the patient's own words. test_records.py has the
examples; these hold for any query string a browser can send.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from bot.records.views import FILTER_KINDS, MAX_QUERY, Filters, search_segments

KINDS = st.lists(st.one_of(st.sampled_from(FILTER_KINDS), st.text(max_size=12)), max_size=6)
DAYS = st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31))
DAY_TEXT = st.one_of(
    DAYS.map(date.isoformat),
    DAYS.map(lambda d: f"  {d.isoformat()} "),
    st.text(max_size=12),
    st.none(),
)


@given(query=st.one_of(st.none(), st.text()), kinds=KINDS, start=DAY_TEXT, end=DAY_TEXT)
def test_parse_never_fails_and_keeps_only_what_it_can_use(
    query: str | None, kinds: list[str], start: str | None, end: str | None
) -> None:
    filters = Filters.parse(query=query, kinds=kinds, start=start, end=end)

    assert filters.query == (query or "").strip()[:MAX_QUERY]
    assert len(filters.query) <= MAX_QUERY
    assert filters.kinds <= frozenset(FILTER_KINDS)
    assert filters.kinds != frozenset(FILTER_KINDS)  # "all kinds" is kept as "no kind filter"
    if filters.start and filters.end:
        assert filters.start <= filters.end
    if any(kind not in FILTER_KINDS for kind in kinds):
        assert "An unknown kind was left out of the filter." in filters.problems
    assert filters.active == bool(filters.query or filters.kinds or filters.start or filters.end)


@given(first=DAYS, second=DAYS)
def test_valid_dates_are_kept_and_put_in_order(first: date, second: date) -> None:
    filters = Filters.parse(start=first.isoformat(), end=second.isoformat())
    assert (filters.start, filters.end) == (min(first, second), max(first, second))
    assert bool(filters.problems) == (first > second)


@given(text=st.text(max_size=12).filter(lambda t: t.strip()))
def test_a_date_that_is_not_a_date_is_left_out_and_named(text: str) -> None:
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        filters = Filters.parse(start=text, end=text)
        assert filters.start is None and filters.end is None
        assert len(filters.problems) == 2


@given(kinds=st.lists(st.sampled_from(FILTER_KINDS), min_size=1))
def test_chosen_kinds_show_exactly_themselves(kinds: list[str]) -> None:
    filters = Filters.parse(kinds=kinds)
    everything = set(kinds) == set(FILTER_KINDS)
    for kind in FILTER_KINDS:
        assert filters.shows(kind) == (everything or kind in kinds)
    assert filters.problems == ()


@given(start=st.one_of(st.none(), DAYS), end=st.one_of(st.none(), DAYS), day=DAYS)
def test_in_period_is_the_inclusive_range_of_utc_days(
    start: date | None, end: date | None, day: date
) -> None:
    filters = Filters.parse(
        start=start.isoformat() if start else "", end=end.isoformat() if end else ""
    )
    low, high = filters.start, filters.end
    inside = (low is None or low <= day) and (high is None or day <= high)
    for moment in (time(0, 0), time(23, 59, 59)):
        assert filters.in_period(datetime.combine(day, moment, tzinfo=UTC)) == inside


@given(query=st.text(min_size=1), kinds=KINDS, start=DAY_TEXT, end=DAY_TEXT)
def test_the_audit_detail_never_contains_the_search_text(
    query: str, kinds: list[str], start: str | None, end: str | None
) -> None:
    filters = Filters.parse(query=query, kinds=kinds, start=start, end=end)
    detail = filters.audit_detail()
    assert set(detail) <= {"search", "kinds", "from", "to"}
    assert detail.get("search", False) is bool(filters.query)
    values = [value for key, value in detail.items() if key != "search"]
    for value in values:
        for item in value if isinstance(value, list) else [value]:
            assert item in FILTER_KINDS or re.fullmatch(r"\d{4}-\d{2}-\d{2}", item)


# ----------------------------------------------------------------------------- highlighting


@given(text=st.text(), query=st.text(max_size=5))
def test_highlighting_keeps_the_text_and_marks_only_the_query(text: str, query: str) -> None:
    segments, found = search_segments(text, query)
    assert "".join(segment.text for segment in segments) == text
    assert all(segment.text for segment in segments) or segments == (segments[0],)
    matches = [segment for segment in segments if segment.match]
    assert found == bool(matches)
    for segment in matches:
        assert re.fullmatch(re.escape(query), segment.text, flags=re.IGNORECASE)
    for segment in segments:
        if not segment.match and query:
            assert not re.search(re.escape(query), segment.text, flags=re.IGNORECASE)


@given(
    before=st.text(max_size=10),
    query=st.text(min_size=1, max_size=8),
    after=st.text(max_size=10),
    ascii_query=st.text(alphabet="abcXYZ019 -", min_size=1, max_size=8),
)
def test_text_containing_the_query_in_any_case_is_found(
    before: str, query: str, after: str, ascii_query: str
) -> None:
    assert search_segments(before + query + after, query)[1]
    for variant in (ascii_query.upper(), ascii_query.lower(), ascii_query.swapcase()):
        segments, found = search_segments(before + variant + after, ascii_query)
        assert found
        assert any(s.match and s.text.lower() == ascii_query.lower() for s in segments)
