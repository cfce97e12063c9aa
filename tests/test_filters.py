"""The collection filters: dates inclusive, durations in seconds, titles by regular expression,
the most recent N; entries without a date or duration kept and counted as unknown."""

import pytest

from claimflow.batch.filters import Filters, normalize_date, select

ENTRIES = [
    {"position": 1, "title": "Q&A live", "upload_date": "20240301", "duration": 5400.0},
    {"position": 2, "title": "Forests and carbon", "upload_date": "20230615", "duration": 1800.0},
    {"position": 3, "title": "Shorts: trees", "upload_date": "20230610", "duration": 45.0},
    {"position": 4, "title": "Old talk", "upload_date": "20221201", "duration": 3600.0},
    {"position": 5, "title": "Undated episode", "upload_date": None, "duration": None},
]


def _positions(selection):
    return [e["position"] for e in selection.kept]


def test_no_filter_keeps_everything_and_counts_nothing():
    selection = select(ENTRIES, Filters())
    assert _positions(selection) == [1, 2, 3, 4, 5]
    assert selection.counts() == {"listed": 5, "kept": 5, "removed": {}, "unknown": {}}


def test_dates_are_inclusive_and_an_undated_entry_is_kept_as_unknown():
    selection = select(ENTRIES, Filters.from_config({"after": "2023-06-10", "before": "2023-06-15"}))
    assert _positions(selection) == [2, 3, 5]
    assert selection.removed == {"after": 1, "before": 1}
    assert selection.unknown == {"date": 1}


def test_durations_and_titles_and_the_count_of_each_filter():
    filters = Filters.from_config({"min_duration": 600, "max_duration": 3600, "title_exclude": "^old"})
    selection = select(ENTRIES, filters)
    assert _positions(selection) == [2, 5]
    # Each removed entry counts once, against the first filter that removes it.
    assert selection.removed == {"min_duration": 1, "max_duration": 1, "title_exclude": 1}
    assert selection.unknown == {"duration": 1}
    assert len(selection.kept) + sum(selection.removed.values()) == selection.listed
    only_forests = select(ENTRIES, Filters.from_config({"title_include": "FOREST"}))  # case-insensitive
    assert _positions(only_forests) == [2]


def test_max_entries_keeps_the_most_recent_by_date_and_undated_ones_last():
    selection = select(ENTRIES, Filters.from_config({"max_entries": 2}))
    assert _positions(selection) == [1, 2]
    assert selection.removed == {"max_entries": 3}
    shuffled = [ENTRIES[3], ENTRIES[4], ENTRIES[0], ENTRIES[2]]  # a feed in no particular order
    assert _positions(select(shuffled, Filters.from_config({"max_entries": 3}))) == [4, 1, 3]
    with_undated = select(shuffled, Filters.from_config({"max_entries": 4}))
    assert _positions(with_undated) == [4, 5, 1, 3] and with_undated.unknown == {"date": 1}


def test_a_collections_own_filters_override_the_global_ones_key_by_key():
    merged = Filters.from_config({"after": "2023-01-01", "min_duration": 600}).over(
        Filters.from_config({"after": "20240101"})
    )
    assert merged.active() == {"after": "20240101", "min_duration": 600}


@pytest.mark.parametrize(("value", "said"), [("2023-13", "not a date; write it as YYYY-MM-DD"),
                                             ("yesterday", "not a date")])  # fmt: skip
def test_a_bad_date_names_the_filter_and_the_form(value, said):
    with pytest.raises(ValueError, match=f"filters.after: '{value}' is {said}"):
        Filters.from_config({"after": value})
    assert normalize_date("2023-01-05") == "20230105"


def test_a_bad_title_pattern_is_named():
    with pytest.raises(ValueError, match=r"filters.title_include: '\(unclosed' is not a regular expression"):
        Filters.from_config({"title_include": "(unclosed"})
