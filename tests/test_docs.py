"""The documentation holds together: every relative link in README.md and docs/ leads to a file
(and to a heading, where it names one), every page of docs/ is reachable from the README, and the
README stays a front page."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import REPO

DOCS = REPO / "docs"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _pages() -> list[Path]:
    return [REPO / "README.md", *sorted(DOCS.glob("*.md"))]


def _links(page: Path) -> list[str]:
    text = FENCE.sub("", page.read_text())  # a code block's brackets are not links
    return [target for target in LINK.findall(text) if not re.match(r"[a-z][a-z0-9+.-]*:", target)]


def _anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_anchor(m) for m in re.findall(r"^#+ (.+)$", text, re.M)}


def test_every_relative_link_leads_to_a_file_and_a_heading():
    broken = []
    for page in _pages():
        for target in _links(page):
            path, _, anchor = target.partition("#")
            found = (page.parent / path).resolve() if path else page
            if not found.exists():
                broken.append(f"{page.relative_to(REPO)}: {target} (no such file)")
            elif anchor and found.suffix == ".md" and anchor not in _anchors(found):
                broken.append(f"{page.relative_to(REPO)}: {target} (no such heading)")
    assert broken == []


def test_every_page_of_docs_is_reachable_from_the_readme():
    seen, todo = set(), [REPO / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        for target in _links(page):
            path = target.partition("#")[0]
            found = (page.parent / path).resolve() if path else page
            if found.suffix == ".md" and found.exists():
                todo.append(found)
    assert sorted(p.name for p in DOCS.glob("*.md") if p not in seen) == []


def test_the_readme_is_a_front_page():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    # The two set-up commands, and no development detail in the user's way.
    assert "make demo" in readme and "make test" in readme
    assert "<!-- config-table" not in readme


def test_the_docs_describe_the_software_not_its_history():
    said = {page.name: page.read_text().lower() for page in _pages()}
    for phrase in ("original sketch", "problem statement", "departures from", "the statement's"):
        assert not [name for name, text in said.items() if phrase in text], phrase


def test_every_file_of_the_project_the_docs_name_exists():
    # A path in the repository (not one under another folder: ~/.cache/claimflow/wheels).
    named = re.compile(r"(?<![\w./~-])((?:claimflow|tests|benchmarks|rules|scripts|profiles|report)/[\w./-]*\w)")
    missing = []
    for page in _pages():
        for path in set(named.findall(page.read_text())):
            if not (REPO / path).exists() and not (REPO / path.split("/<")[0]).exists():
                missing.append(f"{page.relative_to(REPO)}: {path}")
    assert missing == []
