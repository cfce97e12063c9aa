"""docs/configuration.md's table of every setting, generated from config/schema.yaml.

One row per setting: its key, its default, what a change reruns and its description. What a
change reruns is derived from what the rules take as params (claimflow.core.settings.rule_params:
the rule, and what follows it), never written by hand; a test runs dry runs that hold it true.
`python -m claimflow.commands.configdoc --write docs/configuration.md` rewrites the table
between its markers; a test fails when the document and the schema disagree.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from claimflow.core.config import SCHEMA, WORKFLOW_DIR
from claimflow.core.settings import FOLLOWS, rule_params

DOCUMENT = WORKFLOW_DIR / "docs" / "configuration.md"
BEGIN = ("<!-- config-table: generated from config/schema.yaml by "
         "`python -m claimflow.commands.configdoc --write docs/configuration.md` -->")  # fmt: skip
END = "<!-- end config-table -->"
NO_DEFAULT = object()
# What a change of these reruns is not a rule's param: said in words.
IN_WORDS = {
    "sources": "new entries run; nothing else",
    "collections": "a new entry is listed; nothing else",
    "collections[].name": "a new name is a new collection, listed anew",
    "results": "nothing here: another folder starts afresh",
    "state": "nothing here: another folder starts afresh (pacing, listings and the LLM cache are there)",
    # Which road a video takes is decided when its download runs: a change reruns nothing finished.
    "captions.enabled": "nothing finished; the videos not downloaded yet",
    "captions.automatic": "nothing finished; the videos not downloaded yet take their road by it",
    "summarize.enabled": "on: a summarize job per video (and the summary and report wait for them); nothing else",
    "transcribe.prefer_captions": "transcribe, mine, evaluate, store; and decides the road of the videos not "
    "downloaded yet",
}


def rows(schema: dict[str, Any]) -> Iterator[tuple[str, Any, str]]:
    """(dotted key, default, description) for every setting, in schema order."""

    def walk(props: dict[str, Any], prefix: str) -> Iterator[tuple[str, Any, str]]:
        for name, spec in props.items():
            key = f"{prefix}{name}"
            if "$ref" in spec:
                spec = {**resolve(schema, spec["$ref"]), **{k: v for k, v in spec.items() if k != "$ref"}}
            if spec.get("type") == "object" and "properties" in spec:
                yield from walk(spec["properties"], f"{key}.")
            elif spec.get("type") == "array" and "properties" in spec.get("items", {}):
                yield key, spec.get("default", NO_DEFAULT), spec["description"]
                yield from walk(spec["items"]["properties"], f"{key}[].")
            else:
                yield key, spec.get("default", NO_DEFAULT), spec["description"]

    yield from walk(schema["properties"], "")


def resolve(schema: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = schema
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def rules_for(key: str) -> list[str]:
    """The rules whose params hold `key`: the key itself, a setting it is part of (`mine.limits`
    holds `mine.limits.claims`), or a section (a param key ending in `.`)."""

    def holds(param: str) -> bool:
        return key.startswith(param) if param.endswith(".") else key == param or key.startswith(param + ".")

    return [rule for rule, keys in rule_params().items() if any(holds(k) for k in keys)]


# Stages off by default: a change reruns them only where they are on.
OPTIONAL = {"summarize": "summarize.enabled"}


def reruns(key: str) -> str:
    if key in IN_WORDS:
        return IN_WORDS[key]
    rules = rules_for(key)
    if not rules:
        return "nothing"
    chain = []
    for rule in rules:
        for step in (rule, *FOLLOWS[rule]):
            if step not in chain:
                chain.append(step)
    always = [step for step in chain if step not in OPTIONAL]
    where = [f"{step} where {OPTIONAL[step]}" for step in chain if step in OPTIONAL]
    if not always:
        return ", ".join(where)
    return ", ".join(always) + (f" ({'; '.join(where)})" if where else "")


def table(schema: dict[str, Any] | None = None) -> str:
    schema = schema or yaml.safe_load(SCHEMA.read_text())
    lines = ["| key | default | a change reruns | meaning |", "| --- | --- | --- | --- |"]
    for key, default, description in rows(schema):
        shown = "" if default is NO_DEFAULT else f"`{json.dumps(default)}`"
        text = description.replace("|", "\\|")
        lines.append(f"| `{key}` | {shown} | {reruns(key)} | {text} |")
    return "\n".join(lines)


def replace_in(document: str, rendered: str, begin: str = BEGIN, end: str = END) -> str:
    """`rendered` in place of what stands between the markers `begin` and `end` of `document`
    (a generated part of a page: this table, docs/database.md's tables)."""
    start, stop = document.index(begin), document.index(end)
    return document[: start + len(begin)] + "\n" + rendered + "\n" + document[stop:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", type=Path, help="rewrite the table in this file (between its markers)")
    args = parser.parse_args()
    if args.write:
        args.write.write_text(replace_in(args.write.read_text(), table()))
    else:
        print(table())


if __name__ == "__main__":
    main()
