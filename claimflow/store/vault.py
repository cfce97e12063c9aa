"""The batch as a Markdown vault: one note per video, person, term and claim cluster, with YAML
front matter and wikilinks, for Obsidian and every other tool that reads a folder of Markdown.

`claimflow export --format markdown -o DIR` writes it (docs/knowledge.md, 'A Markdown vault').
The notes are made from the database alone, in a fixed order and with nothing of the export's
own time in them, so an export after a rerun that changed nothing finds every note as it is and
rewrites none (a tool that syncs or indexes the vault sees no change). Below a marked heading at
the end of each note the text is the user's: a re-export keeps it byte for byte, and a note whose
mark the user removed is left alone, never overwritten.

What came from the network (titles, names, quotes) is only ever text inside a note: file names
are the video id (claimflow's own alphabet) or a slug of the entry's name in ASCII letters and
digits with a hash of its key, and brackets and angle brackets are escaped so a title cannot
open a link or an HTML tag.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml

from claimflow.core import atomic
from claimflow.store import query

# The line and heading that open the user's part of a note: everything after the heading is
# theirs. An HTML comment: hidden by Obsidian and by every Markdown renderer.
USER_MARK = "<!-- claimflow: write below the next heading; a re-export keeps what is there -->"
USER_HEADING = "## My notes"
FOLDERS = ("videos", "people", "terms", "clusters")
CLAIMS_PER_ENTRY = 10  # a person's or a term's claims listed in its note, the best scored first


@dataclass(frozen=True)
class Note:
    path: str  # relative to the vault, with "/": "videos/abc.md"
    front: dict[str, Any]
    body: str

    @property
    def link(self) -> str:
        return self.path.removesuffix(".md")

    def text(self, user: str = "\n") -> str:
        front = {key: value for key, value in self.front.items() if value not in (None, [], {})}
        head = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1_000_000)
        return f"---\n{head}---\n\n{self.body.rstrip()}\n\n{USER_MARK}\n{USER_HEADING}\n{user}"


@dataclass
class Written:
    """What an export did to the vault's files."""

    written: list[str] = field(default_factory=list)  # new or changed notes
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # notes whose user mark is gone: left as they are

    @property
    def notes(self) -> int:
        return len(self.written) + self.unchanged + len(self.kept)


def _plain(text: Any) -> str:
    """Untrusted text as inline Markdown: one line, and nothing in it opens a link, a wikilink,
    an HTML tag or code."""
    line = " ".join(str(text or "").split())
    return re.sub(r"([\\\[\]<>`])", r"\\\1", line)


def _label(text: Any) -> str:
    """Text inside a wikilink's label, where no escape is read: the characters that would end
    or split it are replaced."""
    line = " ".join(str(text or "").split())
    return line.translate(str.maketrans({"[": "(", "]": ")", "|": "/", "#": "", "^": ""})) or "untitled"


def _wikilink(note: str, label: Any) -> str:
    return f"[[{note}|{_label(label)}]]"


def _url(address: str | None) -> str | None:
    if not address or not address.startswith(("https://", "http://", "file://")):
        return None
    return quote(address, safe=":/?#[]@!$&'*+,;=%~")


def _clock(seconds: float | None) -> str:
    at = int(seconds or 0)
    return f"{at // 3600}:{at % 3600 // 60:02d}:{at % 60:02d}" if at >= 3600 else f"{at // 60}:{at % 60:02d}"


def _moment(address: str | None, seconds: float | None) -> str:
    url = _url(address)
    return f"[{_clock(seconds)}](<{url}>)" if url else _clock(seconds)


def _date(yyyymmdd: str | None) -> dt.date | None:
    try:
        return dt.datetime.strptime(yyyymmdd or "", "%Y%m%d").date()
    except ValueError:
        return None


def slug(name: str, key: str) -> str:
    """A file name for an entry: its name in ASCII letters and digits, and a hash of its key (two
    names that fold alike, or differ only in case, never share a file)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded)
    stem = "-".join(words)[:60].strip("-")
    digest = hashlib.sha1(key.encode()).hexdigest()[:6]
    return f"{stem}-{digest}" if stem else digest


def _video_names(vids: list[str]) -> dict[str, str]:
    # Video ids are case-sensitive (YouTube's are) and a vault may live on a case-insensitive
    # disk (macOS, Windows): the second id that folds like another gets its hash appended.
    names, taken = {}, set()
    for vid in sorted(vids):
        name = vid if vid.lower() not in taken else f"{vid}-{hashlib.sha1(vid.encode()).hexdigest()[:6]}"
        taken.add(name.lower())
        names[vid] = f"videos/{name}.md"
    return names


@dataclass(frozen=True)
class _Video:
    vid: str
    title: str | None
    channel: str | None
    upload_date: str | None
    source: str | None
    duration: float | None
    status: str | None


def _videos(database: str | Path) -> list[_Video]:
    conn = query.connect(database)
    try:
        rows = conn.execute(
            "SELECT vid, title, channel, upload_date, source, duration, status FROM videos ORDER BY vid"
        ).fetchall()
    finally:
        conn.close()
    return [_Video(*row) for row in rows]


def build(database: str | Path, corrections: Any = None) -> list[Note]:
    """Every note of the batch's vault, made from the database as stored, in a fixed order."""
    videos = _videos(database)
    names = _video_names([v.vid for v in videos])
    by_vid = {v.vid: v for v in videos}
    accepted: dict[str, list[query.ClaimRow]] = defaultdict(list)
    for row in query.claims(database):
        if row.decision == "accept":
            accepted[row.vid].append(row)
    summaries = {s.vid: s for s in query.summaries(database)}
    people = query.catalogue(database, people=True, corrections=corrections, limit=None,
                             claims_per_entry=CLAIMS_PER_ENTRY)  # fmt: skip
    terms = query.catalogue(database, people=False, corrections=corrections, limit=None,
                            claims_per_entry=CLAIMS_PER_ENTRY)  # fmt: skip
    clusters = query.clusters(database, min_videos=2, limit=None)
    person_note = {p.key: f"people/{slug(p.name, 'person:' + p.key)}.md" for p in people}
    term_note = {t.key: f"terms/{slug(t.name, 'term:' + t.key)}.md" for t in terms}
    cluster_note = {c.cluster: f"clusters/{slug(' '.join(c.canonical.split()[:8]), c.cluster)}.md" for c in clusters}
    in_video: dict[str, dict[str, list[Any]]] = defaultdict(lambda: {"people": [], "terms": [], "clusters": []})
    for person in people:
        for vid in person.vids:
            in_video[vid]["people"].append(person)
    for term in terms:
        for vid in term.vids:
            in_video[vid]["terms"].append(term)
    for cluster in clusters:
        for vid in sorted({m.vid for m in cluster.members}):
            in_video[vid]["clusters"].append(cluster)

    def video_link(vid: str) -> str:
        video = by_vid.get(vid)
        return _wikilink(names[vid].removesuffix(".md"), video.title if video and video.title else vid) \
            if vid in names else _plain(vid)  # fmt: skip

    notes = []
    for video in videos:
        claims = accepted.get(video.vid, [])
        tiers: dict[str, int] = {}
        for claim in claims:
            tiers[claim.tier or "untiered"] = tiers.get(claim.tier or "untiered", 0) + 1
        title = " ".join((video.title or "").split()) or video.vid
        front: dict[str, Any] = {"title": title, "aliases": [title] if video.title else [],
                                 "vid": video.vid, "source": video.source, "channel": video.channel,
                                 "upload_date": _date(video.upload_date), "status": video.status,
                                 "claims": len(claims), "tiers": dict(sorted(tiers.items())),
                                 "tags": ["claimflow/video"]}  # fmt: skip
        lines = [f"# {_plain(video.title or video.vid)}", ""]
        facts = [f"[Source](<{_url(video.source)}>)" if _url(video.source) else None,
                 _plain(video.channel) if video.channel else None,
                 str(_date(video.upload_date)) if _date(video.upload_date) else None,
                 _clock(video.duration) if video.duration else None]  # fmt: skip
        lines += [" · ".join(f for f in facts if f), ""]
        summary = summaries.get(video.vid)
        if summary:
            lines += ["## Summary", "", _plain(summary.summary), ""]
            lines += [f"- {_plain(point)}" for point in summary.key_points] + [""]
        lines += ["## Claims", ""]
        if not claims:
            lines += ["No accepted claim." if video.status == "ok" else f"No claims ({_plain(video.status)}).", ""]
        for tier in sorted(tiers):
            lines += [f"### Tier {tier}", ""]
            for claim in (c for c in claims if (c.tier or "untiered") == tier):
                score = f" (score {claim.score:.2f})" if claim.score is not None else ""
                lines.append(f"- {_plain(claim.claim_text)}{score}")
                if claim.quote:
                    lines.append(f"  > “{_plain(claim.quote)}” {_moment(claim.href, claim.t0)}")
            lines.append("")
        mine = in_video.get(video.vid, {"people": [], "terms": [], "clusters": []})
        if mine["people"]:
            lines += ["## People", ""] + [f"- {_wikilink(person_note[p.key][:-3], p.name)}" for p in mine["people"]]
            lines.append("")
        if mine["terms"]:
            lines += ["## Terms", ""] + [f"- {_wikilink(term_note[t.key][:-3], t.name)}" for t in mine["terms"]]
            lines.append("")
        if mine["clusters"]:
            lines += ["## Said in other videos too", ""]
            lines += [f"- {_wikilink(cluster_note[c.cluster][:-3], c.canonical)} ({c.videos} videos)"
                      for c in mine["clusters"]]  # fmt: skip
            lines.append("")
        notes.append(Note(names[video.vid], front, "\n".join(lines)))

    for kind, entries, where in (("person", people, person_note), ("term", terms, term_note)):
        for entry in entries:
            front = {"title": entry.name, "aliases": [a for a in entry.aliases if a != entry.name],
                     "videos": len(entry.vids), "mentions": entry.mentions, "tags": [f"claimflow/{kind}"]}  # fmt: skip
            lines = [f"# {_plain(entry.name)}", ""]
            if entry.detail:
                lines += [("Role: " if kind == "person" else "Definition: ") + _plain(entry.detail), ""]
            others = [a for a in entry.aliases if a != entry.name]
            if others:
                lines += ["Also written: " + ", ".join(f"“{_plain(a)}”" for a in others), ""]
            lines += [f"## Videos ({len(entry.vids)})", ""] + [f"- {video_link(vid)}" for vid in entry.vids] + [""]
            if entry.claims:
                lines += ["## Claims that name " + ("them" if kind == "person" else "it"), ""]
                for claim in entry.claims:
                    lines.append(f"- {_plain(claim.claim_text)} ({video_link(claim.vid)}, "
                                 f"{_moment(claim.href, claim.t0)})")  # fmt: skip
                lines.append("")
            notes.append(Note(where[entry.key], front, "\n".join(lines)))

    for cluster in clusters:
        front = {"title": cluster.canonical, "videos": cluster.videos, "channels": cluster.channels,
                 "first": _date(cluster.first), "last": _date(cluster.last), "tags": ["claimflow/cluster"]}  # fmt: skip
        lines = [f"# {_plain(cluster.canonical)}", "",
                 f"Said in {cluster.videos} videos" + (f", {cluster.channels} channels" if cluster.channels else "") +
                 (f", from {_date(cluster.first)} to {_date(cluster.last)}" if cluster.first else "") + ".", "",
                 "## Where", ""]  # fmt: skip
        for member in cluster.members:
            score = f", score {member.score:.2f}" if member.score is not None else ""
            lines.append(f"- {_plain(member.claim_text)} ({video_link(member.vid)}, "
                         f"{_moment(member.href, member.t0)}{score})")  # fmt: skip
        notes.append(Note(cluster_note[cluster.cluster], front, "\n".join(lines)))

    counted = sum(len(c) for c in accepted.values())
    index = ["# The batch", "", f"{len(videos)} videos, {counted} accepted claims, {len(people)} people, "
             f"{len(terms)} terms, {len(clusters)} claims said in several videos.", ""]  # fmt: skip
    index += ["## Videos", ""] + [f"- {video_link(v.vid)}" for v in videos] + [""]
    if clusters:
        index += ["## Said in several videos", ""]
        index += [f"- {_wikilink(cluster_note[c.cluster][:-3], c.canonical)} ({c.videos} videos)" for c in clusters]
        index.append("")
    if people:
        index += ["## People", ""] + [f"- {_wikilink(person_note[p.key][:-3], p.name)} ({len(p.vids)} videos)"
                                      for p in people] + [""]  # fmt: skip
    if terms:
        index += ["## Terms", ""] + [f"- {_wikilink(term_note[t.key][:-3], t.name)} ({len(t.vids)} videos)"
                                     for t in terms]  # fmt: skip
    notes.append(Note("index.md", {"title": "The batch", "tags": ["claimflow/index"]}, "\n".join(index)))
    return notes


def _user_part(existing: str) -> str | None:
    """What follows the user's heading in a note as it is on disk; None when the mark is gone."""
    head, mark, rest = existing.partition("\n" + USER_MARK + "\n")
    if not mark or not rest.startswith(USER_HEADING + "\n"):
        return None
    return rest[len(USER_HEADING) + 1 :]


def write(notes: list[Note], directory: str | Path) -> Written:
    """Each note written atomically where its text differs from the file's; the user's part of
    the file kept; a file without the mark left as it is."""
    root = Path(directory)
    done = Written()
    for note in notes:
        path = root / note.path
        user = "\n"
        if path.is_file():
            existing = path.read_text(encoding="utf-8")
            found = _user_part(existing)
            if found is None:
                done.kept.append(note.path)
                continue
            user = found
            if note.text(user) == existing:
                done.unchanged += 1
                continue
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, note.text(user))
        done.written.append(note.path)
    return done


def export(database: str | Path, directory: str | Path, corrections: Any = None) -> Written:
    return write(build(database, corrections), directory)
