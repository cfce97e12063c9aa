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


def _stored_batch(db) -> None:
    """Three stored videos naming people and defining terms, as the miner writes them."""
    from claimflow.store import database as store
    from tests.test_store import _docs

    said = {"v1": (["Dr. Jane Smith", "Bob Jones"], ["REM sleep"], "Jane Smith says deep sleep stores memories."),
            "v2": (["Jane Smyth"], ["rem sleep"], "Smith found that naps help."),
            "v3": (["Robert Jones", "J. Smith"], ["REM-sleep"], "Robert Jones runs a sleep lab.")}  # fmt: skip
    for day, (vid, (names, terms, claim)) in enumerate(said.items(), start=1):
        download, transcript, claims_doc, evaluation = _docs(vid, 1)
        download["upload_date"] = f"2026010{day}"
        claims_doc["claims"][0]["claim_text"] = claim
        claims_doc["people"] = [{"name": n, "entity_type": "person", "role": "sleep researcher", "mentions": [],
                                 "window": 0} for n in names]  # fmt: skip
        claims_doc["jargon"] = [{"term": t, "definition": "the dreaming stage of sleep", "evidence_spans": [],
                                 "window": 0, "supported": True} for t in terms]  # fmt: skip
        store.store_video(db, vid, store.rows_for(download, transcript, claims_doc, evaluation), timeout=5)


def test_the_batchs_people_and_terms_from_the_database_with_a_users_corrections(tmp_path, capsys):
    import json

    from claimflow.commands import cli
    from claimflow.knowledge.catalogue import load_corrections
    from claimflow.store import query
    from tests.test_cli import DEMO_CONFIG

    db = tmp_path / "claimflow.sqlite"
    _stored_batch(db)
    people = query.catalogue(db)
    smith = people[0]  # in the most videos
    assert smith.name == "Dr. Jane Smith" and smith.vids == ("v1", "v2", "v3") and smith.mentions == 3
    assert set(smith.aliases) == {"Dr. Jane Smith", "Jane Smyth", "J. Smith"} and smith.detail == "sleep researcher"
    # The claims naming her: her full name anywhere, her surname alone in her own videos.
    assert {c.vid for c in smith.claims} == {"v1", "v2"}
    # A nickname: two entries, until a correction merges them.
    assert {p.name for p in people} == {"Dr. Jane Smith", "Bob Jones", "Robert Jones"}
    (terms,) = query.catalogue(db, people=False)
    assert terms.name in ("REM sleep", "rem sleep", "REM-sleep") and len(terms.vids) == 3
    assert terms.detail == "the dreaming stage of sleep"

    fixes = tmp_path / "fixes.yaml"
    fixes.write_text("merge: [[Bob Jones, Robert Jones]]\n")
    before = fixes.read_bytes()
    merged = query.catalogue(db, corrections=load_corrections(fixes), name="jones")
    assert len(merged) == 1 and merged[0].vids == ("v1", "v3") and merged[0].claims[0].vid == "v3"
    assert fixes.read_bytes() == before  # a user's file is read, never written

    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}\ncatalogue: {{corrections: {fixes}}}\n")
    assert cli.main(["people", "--json", "--configfile", DEMO_CONFIG, str(config)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [len(p["vids"]) for p in listed] == [3, 2] and listed[0]["claims"][0]["link"]
    assert cli.main(["terms", "--configfile", DEMO_CONFIG, str(config)]) == 0
    assert "[3 videos, 3 mentions" in capsys.readouterr().out
    fixes.write_text("merge: [[Bob Jones]]\n")
    assert cli.main(["people", "--configfile", DEMO_CONFIG, str(config)]) == 2
    err = capsys.readouterr().err
    assert "catalogue.corrections" in err and str(fixes) in err and "two or more names" in err


def test_the_report_shows_the_most_discussed_people_and_terms_and_names_a_bad_corrections_file(tmp_path):
    from claimflow.commands import report
    from claimflow.core import settings

    _stored_batch(tmp_path / "claimflow.sqlite")
    fixes = tmp_path / "fixes.yaml"
    fixes.write_text("merge: [[Bob Jones, Robert Jones]]\n")
    pacing = settings.load().pacing
    data = report.gather(pacing, ["v1", "v2", "v3"], tmp_path, corrections=str(fixes))
    page = "".join(report._entries(data))
    assert "<table id=people>" in page and "<table id=terms>" in page and data.catalogue_note is None
    assert [(p.name, len(p.vids)) for p in data.people] == [("Dr. Jane Smith", 3), ("Bob Jones", 2)]
    assert "Jane Smith says deep sleep stores memories." in page and "the dreaming stage of sleep" in page
    fixes.write_text("merge: [Bob Jones\n")
    broken = report.gather(pacing, ["v1", "v2", "v3"], tmp_path, corrections=str(fixes))
    assert len(broken.people) == 3  # the report is still made, without the corrections, and says why
    assert f"Your corrections are not applied: catalogue.corrections: {fixes} is not YAML" in "".join(
        report._entries(broken)
    )


def test_export_gives_the_people_and_terms_as_json_lines_and_csv(tmp_path, capsys):
    import csv
    import io
    import json

    from claimflow.commands import cli
    from tests.test_cli import DEMO_CONFIG

    _stored_batch(tmp_path / "claimflow.sqlite")
    fixes = tmp_path / "fixes.yaml"
    fixes.write_text("merge: [[Bob Jones, Robert Jones]]\n")
    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}\ncatalogue: {{corrections: {fixes}}}\n")
    assert cli.main(["export", "--what", "people", "--configfile", DEMO_CONFIG, str(config)]) == 0
    people = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["name"], p["vids"]) for p in people] == [
        ("Dr. Jane Smith", ["v1", "v2", "v3"]),
        ("Bob Jones", ["v1", "v3"]),
    ]
    out = tmp_path / "terms.csv"
    argv = ["export", "--what", "terms", "--format", "csv", "-o", str(out), "--configfile", DEMO_CONFIG, str(config)]
    assert cli.main(argv) == 0
    (row,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert row["videos"] == "3" and row["vids"] == "v1; v2; v3" and row["detail"] == "the dreaming stage of sleep"
    assert len(row["aliases"].split("; ")) == 3


def test_doctor_warns_of_a_corrections_file_it_cannot_read_and_names_the_file(tmp_path):
    from claimflow.commands import doctor

    assert doctor.check_catalogue({"catalogue": {"corrections": None}}).status == doctor.OK
    fixes = tmp_path / "fixes.yaml"
    fixes.write_text("merge: [[A B, A. B.]]\nsplit: [Smith]\n")
    good = doctor.check_catalogue({"catalogue": {"corrections": str(fixes)}})
    assert good.status == doctor.OK and "1 merge(s), 1 split(s)" in good.detail
    missing = doctor.check_catalogue({"catalogue": {"corrections": str(tmp_path / "nope.yaml")}})
    assert missing.status == doctor.WARN and "nope.yaml" in missing.detail and "fix the path" in missing.detail


def test_search_keeps_to_the_videos_that_mention_a_person_and_to_upload_dates(tmp_path, capsys):
    import json

    from claimflow.commands import cli
    from tests.test_cli import DEMO_CONFIG

    _stored_batch(tmp_path / "claimflow.sqlite")
    config = tmp_path / "c.yaml"
    config.write_text(f"results: {tmp_path}\n")

    said = {}

    def found(*options: str) -> tuple[int, list[str]]:
        code = cli.main(["search", "sleep", *options, "--json", "--configfile", DEMO_CONFIG, str(config)])
        out = capsys.readouterr()
        said["err"] = out.err
        return code, sorted(row["vid"] for row in json.loads(out.out)) if code == 0 else []

    assert found() == (0, ["v1", "v2", "v3"])  # every video's quote says sleep
    assert found("--person", "Jones") == (0, ["v1", "v3"])  # Bob Jones and Robert Jones, as written
    assert found("--person", "dr. jane smith") == (0, ["v1", "v2", "v3"])  # her every spelling
    assert found("--since", "2026-01-02") == (0, ["v2", "v3"])
    assert found("--since", "20260102", "--until", "2026-01-02") == (0, ["v2"])
    assert found("--person", "Jones", "--video", "v2") == (2, [])
    assert "none of the --video ids mentions them" in said["err"]
    assert found("--person", "Nobody") == (2, [])
    assert "no person of the batch is written so" in said["err"]
    with pytest.raises(SystemExit) as bad:  # argparse's own error, in claimflow's words
        cli.main(["search", "sleep", "--since", "March", "--configfile", DEMO_CONFIG, str(config)])
    assert bad.value.code == 2
    assert "'March' is not a date: write it as 2026-03-31" in capsys.readouterr().err
