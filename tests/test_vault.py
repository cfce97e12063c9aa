"""The Markdown vault (`claimflow export --format markdown`): notes from a real SQLite database
written by the store stage; wikilinks that resolve, front matter that parses, a second export
that rewrites nothing, and the user's part of a note kept through a re-export after a change."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from claimflow.store import database as store
from claimflow.store import vault
from tests.test_query import video

WIKILINK = re.compile(r"\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|[^\]]*)?\]\]")


def _store(path: Path, vid: str, source: str, claims: list, people: list[str], title: str | None = None) -> None:
    download, transcript, claims_doc, evaluation = video(vid, source, claims)
    if title:
        download["title"] = title
    download["channel"], download["upload_date"] = "Field Notes", "20240305"
    claims_doc["people"] = [{"name": name, "entity_type": "person", "role": "sleep scientist",
                             "mentions": [{"segment_id": 1, "quote": name, "t0": 1.0, "t1": 2.0}]}
                            for name in people]  # fmt: skip
    span = {"segment_id": 1, "quote": "slow-wave sleep", "t0": 1.0, "t1": 2.0}
    claims_doc["jargon"] = [{"term": "slow-wave sleep", "definition": "the deepest stage of sleep",
                             "evidence_spans": [span]}]  # fmt: skip
    conn = store.connect(path)
    store.upsert(conn, vid, store.rows_for(download, transcript, claims_doc, evaluation))
    conn.close()


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "claimflow.sqlite"
    _store(path, "youtube-dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
           [("Jane Smith says deep sleep consolidates memory.", "factual", "A", 83.6),
            ("Coffee after noon ruins sleep quality.", "prescriptive", "B", 125.0),
            ("A rejected claim.", "factual", "", 130.0)], ["Dr. Jane Smith"])  # fmt: skip
    # A title that tries to open a link, a tag and the user's heading: text, never structure.
    _store(path, "file-talk", "file:///data/talks/my talk (1).ogg",
           [("Jane Smith found that naps restore attention.", "factual", "A", 3725.2)], ["Jane Smith"],
           title="[[index]] <script>alert(1)</script>\n## My notes")  # fmt: skip
    return path


def _notes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8") for p in root.rglob("*.md")}


def test_every_wikilink_resolves_and_the_front_matter_parses(database: Path, tmp_path: Path):
    root = tmp_path / "vault"
    done = vault.export(database, root)
    notes = _notes(root)
    assert sorted(done.written) == sorted(notes) and done.unchanged == 0
    assert "videos/youtube-dQw4w9WgXcQ.md" in notes and "videos/file-talk.md" in notes and "index.md" in notes
    people = [n for n in notes if n.startswith("people/")]
    assert len(people) == 1  # "Dr. Jane Smith" and "Jane Smith": one person, one note
    links = 0
    for name, text in notes.items():
        front = yaml.safe_load(text.split("---\n")[1])
        assert front["title"] and front["tags"][0].startswith("claimflow/")
        for target in WIKILINK.findall(text):
            links += 1
            assert target + ".md" in notes, f"{name} links to {target}, which is no note"
    assert links >= 8
    person = notes[people[0]]
    assert "# Jane Smith" in person and "“Dr. Jane Smith”" in person and "sleep scientist" in person
    assert "[[videos/youtube-dQw4w9WgXcQ|Title of youtube-dQw4w9WgXcQ]]" in person
    assert "naps restore attention" in person  # a claim that names her, in the other video
    talk = notes["videos/youtube-dQw4w9WgXcQ.md"]
    front = yaml.safe_load(talk.split("---\n")[1])
    assert front["tiers"] == {"A": 1, "B": 1} and front["claims"] == 2 and str(front["upload_date"]) == "2024-03-05"
    assert "### Tier A" in talk and "A rejected claim" not in talk
    assert "[1:23](<https://youtu.be/dQw4w9WgXcQ?t=83>)" in talk  # the moment, a link
    assert f"[[{people[0][:-3]}|Jane Smith]]" in talk and "[[terms/slow-wave-sleep-" in talk
    local = notes["videos/file-talk.md"]
    assert "[1:02:05](<file:///data/talks/my%20talk%20%281%29.ogg#t=3725>)" in local
    heading = local.split("\n\n")[1]
    assert heading.startswith("# \\[\\[index\\]\\] \\<script\\>") and "\n" not in heading
    assert local.splitlines().count(vault.USER_HEADING) == 1 and local.count(vault.USER_MARK) == 1
    assert yaml.safe_load(local.split("---\n")[1])["title"] == "[[index]] <script>alert(1)</script> ## My notes"


def test_a_second_export_rewrites_nothing_and_the_users_notes_survive_a_change(database: Path, tmp_path: Path):
    root = tmp_path / "vault"
    vault.export(database, root)
    note = root / "videos/youtube-dQw4w9WgXcQ.md"
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*.md")}
    again = vault.export(database, root)
    assert again.written == [] and again.unchanged == len(mtimes)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.md")} == mtimes
    mine = "Ask her about naps.\n\n- [ ] follow up\n"
    note.write_text(note.read_text() + mine)
    # The video is mined again with another claim: its note changes, the user's lines stay.
    _store(database, "youtube-dQw4w9WgXcQ", "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
           [("Jane Smith says deep sleep consolidates memory.", "factual", "A", 83.6),
            ("Light at night delays the body clock.", "causal", "B", 200.0)], ["Dr. Jane Smith"])  # fmt: skip
    changed = vault.export(database, root)
    assert "videos/youtube-dQw4w9WgXcQ.md" in changed.written
    text = note.read_text()
    assert "Light at night delays the body clock." in text and "Coffee after noon" not in text
    assert text.endswith(vault.USER_HEADING + "\n\n" + mine)
    assert "videos/file-talk.md" not in changed.written  # untouched by the other video's change
    # A note whose mark the user removed is theirs: left as it is, and said so.
    other = root / "videos/file-talk.md"
    other.write_text("all mine\n")
    kept = vault.export(database, root)
    assert kept.kept == ["videos/file-talk.md"] and other.read_text() == "all mine\n"


def test_file_names_are_safe_and_never_collide_by_case():
    assert vault.slug("Dr. José Ñúñez", "person:jose nunez").startswith("dr-jose-nunez-")
    assert vault.slug("../../etc/passwd", "k").startswith("etc-passwd-")
    assert re.fullmatch(r"[0-9a-f]{6}", vault.slug("日本語", "term:日本語"))
    names = vault._video_names(["youtube-abcDEF", "youtube-abcdef"])
    assert len({n.lower() for n in names.values()}) == 2
    assert all(os.sep not in n.removeprefix("videos/") for n in names.values())
