"""One catalogue of people and terms across the batch (claimflow/knowledge/catalogue.py)."""

from __future__ import annotations

import random

import pytest

from claimflow.knowledge.catalogue import Corrections, Mention, build, normalize


def _names(entries) -> dict[str, list[str]]:
    return {e.name: e.aliases for e in entries}


def test_titles_case_accents_and_punctuation_aside():
    assert normalize("Dr. José  O'Neil, PhD") == "jose oneil"
    assert normalize("PROF. JANE SMITH") == normalize("jane smith") == "jane smith"


def test_variants_of_one_person_are_one_entry_and_ambiguous_ones_stand_alone():
    said = ["Dr. Jane Smith", "Jane Smith", "jane smith", "J. Smith", "Jane Smyth", "Smith",  # one person
            "Andrew Huberman", "Huberman", "Dr. Huberman",
            "Matthew Walker", "Walker", "Matt Walker"]  # fmt: skip
    mentions = [Mention(f"v{i % 4}", name, f"p{i}") for i, name in enumerate(said)]
    entries = build(mentions)
    names = _names(entries)
    assert names["Jane Smith"] == sorted(
        ["Dr. Jane Smith", "Jane Smith", "jane smith", "J. Smith", "Jane Smyth", "Smith"]
    )
    assert sorted(names["Andrew Huberman"]) == ["Andrew Huberman", "Dr. Huberman", "Huberman"]
    # "Walker" is ambiguous between Matthew and Matt (not initials, not a spelling): alone.
    assert "Walker" in names and "Matt Walker" in names and "Matthew Walker" in names
    smith = next(e for e in entries if e.name == "Jane Smith")
    assert smith.videos == ["v0", "v1", "v2", "v3"] and len(smith.mentions) == 6


def test_two_people_of_one_surname_keep_the_lone_surname_and_the_initial_apart():
    mentions = [Mention("a", "Jane Smith"), Mention("b", "John Smith"), Mention("c", "Smith"), Mention("d", "J. Smith")]
    names = _names(build(mentions))
    assert set(names) == {"Jane Smith", "John Smith", "Smith", "J. Smith"}


def test_the_same_mentions_in_any_order_give_the_same_catalogue():
    said = ["Dr. Jane Smith", "Jane Smyth", "Smith", "J. Smith", "Andrew Huberman", "Huberman", "Peter Attia",
            "Dr. Peter Attia", "Attia", "peter atia"]  # fmt: skip
    mentions = [Mention(f"v{i}", name) for i, name in enumerate(said)]
    first = [(e.key, e.name, e.aliases, e.mentions) for e in build(mentions)]
    for seed in range(5):
        shuffled = list(mentions)
        random.Random(seed).shuffle(shuffled)
        assert [(e.key, e.name, e.aliases, e.mentions) for e in build(shuffled)] == first


def test_a_users_corrections_merge_and_split_and_bad_ones_are_named():
    mentions = [Mention("a", "Bob Jones"), Mention("b", "Robert Jones"), Mention("c", "Jane Smith"),
                Mention("d", "Jane Smyth")]  # fmt: skip
    plain = _names(build(mentions))
    assert "Bob Jones" in plain and "Robert Jones" in plain and "Jane Smyth" not in plain
    fixed = build(mentions, Corrections.from_dict({"merge": [["Bob Jones", "Robert Jones"]], "split": ["Jane Smyth"]}))
    names = _names(fixed)
    assert sorted(names[next(n for n in names if "Jones" in n)]) == ["Bob Jones", "Robert Jones"]
    assert "Jane Smyth" in names and names["Jane Smith"] == ["Jane Smith"]
    with pytest.raises(ValueError, match="unknown key"):
        Corrections.from_dict({"merged": []})
    with pytest.raises(ValueError, match="two or more names"):
        Corrections.from_dict({"merge": [["Bob Jones"]]})


def test_terms_match_case_and_spelling_not_initials():
    terms = [Mention("a", "REM sleep"), Mention("b", "rem sleep"), Mention("c", "REM-sleep"), Mention("d", "sleep")]
    names = _names(build(terms, people=False))
    assert sorted(names["REM sleep"]) == ["REM sleep", "REM-sleep", "rem sleep"] and "sleep" in names
