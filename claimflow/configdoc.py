"""The README's configuration table, generated from config/schema.yaml.

One row per setting: its key, its default, which stages a change reruns (from the settings
classes: result settings rerun their stage and what follows, runtime settings nothing) and
its description. `python -m claimflow.configdoc --write README.md` rewrites the table between
its markers; a test fails when the README and the schema disagree.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from claimflow.config import SCHEMA
from claimflow.settings import result_keys

BEGIN = "<!-- config-table: generated from config/schema.yaml by `python -m claimflow.configdoc --write README.md` -->"
END = "<!-- end config-table -->"
NO_DEFAULT = object()
DOWNSTREAM = {
    "transcribe": "transcribe, mine, evaluate, store",
    "llm": "mine, evaluate, store",
    "mine": "mine, evaluate, store",
    "evaluate": "evaluate, store",
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


def reruns(key: str) -> str:
    section, _, rest = key.partition(".")
    name = rest.split(".")[0]
    if section == "sources":
        return "new entries run; nothing else"
    if section in DOWNSTREAM and name in result_keys()[section]:
        return DOWNSTREAM[section]
    return "nothing"


def table(schema: dict[str, Any] | None = None) -> str:
    schema = schema or yaml.safe_load(SCHEMA.read_text())
    lines = ["| key | default | a change reruns | meaning |", "| --- | --- | --- | --- |"]
    for key, default, description in rows(schema):
        shown = "" if default is NO_DEFAULT else f"`{json.dumps(default)}`"
        text = description.replace("|", "\\|")
        lines.append(f"| `{key}` | {shown} | {reruns(key)} | {text} |")
    return "\n".join(lines)


def replace_in(document: str, rendered: str) -> str:
    start, end = document.index(BEGIN), document.index(END)
    return document[: start + len(BEGIN)] + "\n" + rendered + "\n" + document[end:]


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
