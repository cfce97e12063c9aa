"""One catalogue of people (and of jargon terms) across the batch: "Dr. Jane Smith", "Jane
Smith", "jane smith" and "J. Smith" one entry with its aliases, "Smith" too where the batch has
only one Smith, and spelling variants ("Jane Smyth") by fuzzy matching (rapidfuzz).

Deterministic: the same mentions give the same entries and the same names whatever order the
videos were stored in (names are taken longest- and most-mentioned first, ties by the text).
A user's corrections (`merge`: names that are one entry; `split`: a name that must stand alone)
are applied after matching and survive every rebuild, since the catalogue is remade from the
mentions and the corrections each time.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

# Honorifics and post-nominals that say nothing about who: dropped before matching.
TITLES = frozenset({
    "dr", "doctor", "prof", "professor", "mr", "mrs", "ms", "miss", "mx", "sir", "dame", "lord",
    "lady", "rev", "reverend", "fr", "father", "st", "saint", "phd", "md", "dphil", "msc", "bsc",
    "jr", "sr", "ii", "iii", "esq",  # not "ma" (a surname as well as a degree)
})  # fmt: skip
# Spelling variants: the whole name at least this alike (rapidfuzz ratio, 0-100), the surnames'
# first letters equal. Measured on the tests' variants: "jane smyth"/"jane smith" 90, "matt
# walker"/"matthew walker" 88 (a nickname: two entries, which a correction can merge), "john
# smith"/"jane smith" 70.
SPELLING = 90


def normalize(name: str) -> str:
    """Case, accents, punctuation and titles aside: 'Dr. José  O'Neil, PhD' -> 'jose oneil'."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    folded = re.sub(r"['’]", "", folded)
    words = re.findall(r"[a-z0-9]+", folded)
    return " ".join(w for w in words if w not in TITLES)


@dataclass(frozen=True)
class Mention:
    """One video's mention of a name (a row of claims.json's `people` or `jargon`)."""

    vid: str
    name: str
    item_id: str = ""


@dataclass
class Entry:
    """One person (or term) of the batch: the name shown, every spelling seen, the mentions."""

    key: str  # normalized shown name: stable, the database's key
    name: str  # the most mentioned spelling of the fullest form, the plainest between equals
    aliases: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    @property
    def videos(self) -> list[str]:
        return sorted({m.vid for m in self.mentions})


@dataclass(frozen=True)
class Corrections:
    """A user's file: names that are one entry, and names that must stand alone."""

    merge: tuple[tuple[str, ...], ...] = ()
    split: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict | None) -> Corrections:
        data = data or {}
        unknown = set(data) - {"merge", "split"}
        if unknown:
            raise ValueError(f"corrections: unknown key(s) {sorted(unknown)}; expected merge: [[name, name, ...]] and "
                             "split: [name, ...]")  # fmt: skip
        merge = tuple(tuple(str(n) for n in group) for group in data.get("merge") or ())
        if any(len(group) < 2 for group in merge):
            raise ValueError(
                "corrections: each merge entry lists two or more names, e.g. merge: [[Jane Smith, J. Smyth]]"
            )
        return cls(merge, tuple(str(n) for n in data.get("split") or ()))


def load_corrections(path: str | Path | None) -> Corrections:
    """A user's corrections file (YAML; `catalogue.corrections`), read and never modified; none
    when the setting is empty."""
    if not path:
        return Corrections()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"catalogue.corrections: cannot read {path} ({exc.strerror}): fix the path, or leave "
                         "the setting empty") from None  # fmt: skip
    except yaml.YAMLError as exc:
        raise ValueError(f"catalogue.corrections: {path} is not YAML ({exc.__class__.__name__}); write e.g. "
                         "merge: [[Jane Smith, J. Smyth]] and split: [Smith]") from None  # fmt: skip
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"catalogue.corrections: {path} holds no mapping; write merge: [...] and split: [...]")
    try:
        return Corrections.from_dict(data)
    except ValueError as exc:
        raise ValueError(f"catalogue.corrections: {path}: {exc}") from None


def _initials_match(short: str, full: str) -> bool:
    """'j smith' is 'jane smith': the same last word, each other word an initial of the full one's."""
    s, f = short.split(), full.split()
    if len(s) != len(f) or s[-1] != f[-1] or s == f:
        return False
    return all(a == b or (len(a) == 1 and b.startswith(a)) for a, b in zip(s[:-1], f[:-1], strict=True))


class _Heads:
    """The entries so far, indexed the ways a form is matched: by last word (initials, a lone
    surname) and by the last word's first letter (spelling variants, compared in rapidfuzz's C++
    with its score cutoff): a batch's 50,000 names in seconds, not each against each."""

    def __init__(self) -> None:
        self.by_last: dict[str, list[str]] = defaultdict(list)
        self.by_letter: dict[str, list[str]] = defaultdict(list)

    def add(self, head: str) -> None:
        last = head.split()[-1]
        self.by_last[last].append(head)
        self.by_letter[last[0]].append(head)

    def match(self, form: str, people: bool) -> str | None:
        """The one entry `form` is another way of writing, or None (no entry, or more than one:
        'J. Smith' with a Jane and a John Smith in the batch stands alone)."""
        f = form.split()
        if people:
            same_last = self.by_last.get(f[-1], [])
            if len(f) == 1:
                shorter = [h for h in same_last if len(h.split()) > 1]
            else:
                shorter = [h for h in same_last if _initials_match(form, h)]
            if shorter:
                return shorter[0] if len(shorter) == 1 else None
        found = process.extract(form, self.by_letter.get(f[-1][0], []), scorer=fuzz.ratio, score_cutoff=SPELLING,
                                limit=None)  # fmt: skip
        if not found:
            return None
        best = max(score for _, score, _ in found)
        closest = [h for h, score, _ in found if score == best]
        return closest[0] if len(closest) == 1 else None


def build(mentions: Iterable[Mention], corrections: Corrections = Corrections(), people: bool = True) -> list[Entry]:
    """The catalogue: entries sorted by mentions (most first), then key. `people`: also match
    initials and a lone surname (for terms only case, punctuation and spelling)."""
    by_form: dict[str, list[Mention]] = defaultdict(list)
    for mention in mentions:
        form = normalize(mention.name) if people else " ".join(re.findall(r"[a-z0-9]+", mention.name.lower()))
        if form:
            by_form[form].append(mention)
    split = {normalize(n) if people else n.lower() for n in corrections.split}
    # The fullest, most mentioned forms first, written-out names before initials ("jane smith"
    # before "j smith", which then joins it): each later form joins the first entry it matches.
    forms = sorted(by_form, key=lambda f: (-len(f.split()), sum(len(w) == 1 for w in f.split()), -len(by_form[f]), f))
    heads = _Heads()  # a name that must stand alone is never one another form joins
    owner: dict[str, str] = {}
    for form in forms:
        match = None if form in split else heads.match(form, people)
        if match is None:
            if form not in split:
                heads.add(form)
            owner[form] = form
        else:
            owner[form] = owner[match]
    for group in corrections.merge:
        keys = [normalize(n) if people else n.lower() for n in group]
        targets = sorted({owner.get(k, k) for k in keys if k in owner})
        for form, head in list(owner.items()):
            if head in targets[1:]:
                owner[form] = targets[0]
    entries: dict[str, Entry] = {}
    for form in sorted(owner):
        head = owner[form]
        entry = entries.setdefault(head, Entry(key=head, name=""))
        entry.mentions += by_form[form]
    for head, entry in entries.items():
        spellings = Counter(m.name.strip() for m in entry.mentions)
        entry.aliases = sorted(spellings)
        fullest = [s for s in spellings if normalize(s) == head] or list(spellings)
        # The most mentioned spelling; between equals the plainest (a title is in the aliases).
        entry.name = sorted(fullest, key=lambda s: (-spellings[s], len(s), s))[0]
        entry.mentions.sort(key=lambda m: (m.vid, m.item_id, m.name))
    return sorted(entries.values(), key=lambda e: (-len(e.mentions), e.key))


def people_of(claims_by_video: Sequence[tuple[str, dict]]) -> list[Mention]:
    """The person mentions of (vid, claims.json) pairs (organizations are left out)."""
    return [Mention(vid, str(p.get("name") or ""), str(p.get("item_id") or p.get("id") or ""))
            for vid, claims in claims_by_video for p in claims.get("people") or []
            if p.get("entity_type", "person") == "person"]  # fmt: skip
