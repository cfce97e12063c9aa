"""`claimflow export --format markdown` on the finished demo: a vault whose every wikilink is a
note, that a second export leaves untouched (mtimes), and whose user part survives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from claimflow.store import vault
from tests.conftest import REPO
from tests.test_vault import WIKILINK

pytestmark = pytest.mark.slow
CLAIMFLOW = str(Path(sys.executable).parent / "claimflow")


def export(workdir: Path, folder: Path) -> subprocess.CompletedProcess:
    command = [CLAIMFLOW, "export", "--format", "markdown", "-o", str(folder),
               "--configfile", str(REPO / "config/demo.yaml"), "test.yaml"]  # fmt: skip
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120, check=True)


def test_the_demos_vault_links_resolve_and_a_second_export_rewrites_nothing(demo_run: Path, tmp_path: Path):
    folder = tmp_path / "vault"
    first = export(demo_run, folder)
    notes = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.md")}
    videos = [n for n in notes if n.startswith("videos/")]
    assert len(videos) == 3 and "index.md" in notes
    assert f"{len(notes)} notes, {len(notes)} written" in first.stdout
    targets = [t for text in notes.values() for t in WIKILINK.findall(text)]
    assert len(targets) >= 6 and all(t + ".md" in notes for t in targets), targets
    for name in videos:
        front = yaml.safe_load(notes[name].split("---\n")[1])
        assert front["status"] == "ok" and front["claims"] == sum(front["tiers"].values()) >= 1
        assert "#t=" in notes[name]  # the claims' moments, as links to the file at the second
    mtimes = {p: p.stat().st_mtime_ns for p in folder.rglob("*.md")}
    note = folder / videos[0]
    note.write_text(note.read_text() + "Checked against the paper.\n")
    mtimes[note] = note.stat().st_mtime_ns
    again = export(demo_run, folder)
    assert f"{len(notes)} notes, 0 written, {len(notes)} unchanged" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*.md")} == mtimes
    assert note.read_text().endswith(vault.USER_HEADING + "\n\nChecked against the paper.\n")
