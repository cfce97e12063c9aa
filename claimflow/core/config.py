"""The workflow's configuration outside Snakemake: the shipped defaults, then each
`--configfile` merged key by key (Snakemake's own rule), validated by the same schema with its
defaults filled in. The `claimflow` command reads config exactly as the workflow does."""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

import yaml

WORKFLOW_DIR = Path(__file__).resolve().parents[2]  # the checkout: claimflow/core/config.py
DEFAULTS = WORKFLOW_DIR / "config" / "config.yaml"
SCHEMA = WORKFLOW_DIR / "config" / "schema.yaml"


class ConfigError(ValueError):
    pass


# The run's own facts, added to the config after it is validated (so no user can set them).
RUN_KEY = "_run"

# The exit status of a run (or any claimflow command) that cannot start because of what it was
# given: the config, the sources, the arguments, another live run in the folder.
EXIT_BAD_INPUT = 2


def refuse(message: str) -> NoReturn:
    """Stop before any job: the message on stderr (one paragraph naming the problem and the
    fix), exit status EXIT_BAD_INPUT. At parse time Snakemake passes the status through."""
    print(f"claimflow: {message}", file=sys.stderr, flush=True)
    raise SystemExit(EXIT_BAD_INPUT)


def load(configfiles: Iterable[str | Path] = (), overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged, validated config with the schema's defaults filled in; `overrides` last, as
    Snakemake's `--config` would."""
    from snakemake.exceptions import WorkflowError  # Snakemake is heavy (a second): only where a config is validated
    from snakemake.utils import (  # Snakemake is heavy (a second): only where a config is validated
        update_config,
        validate,
    )

    config = merged(configfiles)
    if overrides:
        update_config(config, copy.deepcopy(overrides))
    dates_as_text(config)
    try:
        validate(config, str(SCHEMA), set_default=True)
    except WorkflowError:
        raise ConfigError(explain_invalid(config)) from None
    return config


def merged(configfiles: Iterable[str | Path] = ()) -> dict[str, Any]:
    """The shipped defaults with each file over them, key by key (not validated yet)."""
    from snakemake.utils import update_config  # Snakemake is heavy (a second): only where a config is validated

    config = _read(DEFAULTS)
    for path in configfiles:
        update_config(config, _read(Path(path)))
    return config


def dates_as_text(config: dict[str, Any]) -> None:
    """YAML reads `after: 2023-01-01` as a date; the filters take it as the text it was."""
    collections = [c for c in config.get("collections") or [] if isinstance(c, dict)]
    sections = [config.get("filters")] + [c.get("filters") for c in collections]
    for section in sections:
        if isinstance(section, dict):
            for key, value in section.items():
                if isinstance(value, dt.date):
                    section[key] = value.isoformat()


def explain_invalid(config: dict[str, Any]) -> str:
    """One paragraph for the first problem of an invalid config: which key, what it holds, what
    it must be, what the setting is for, and where to fix it (Snakemake's own message prints the
    schema's whole subtree instead)."""
    import jsonschema  # jsonschema: only where a config is explained

    schema = yaml.safe_load(SCHEMA.read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is None:
        return "the config does not match config/schema.yaml"
    where = _path(error.absolute_path)
    fix = "Fix it in the config file given with --configfile (or --config); every setting is in docs/configuration.md."
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        unknown = [k for k in error.instance if k not in known]
        names = ", ".join(f"{where}.{k}" if where else k for k in unknown)
        hints = [difflib.get_close_matches(k, known, n=1) for k in unknown]
        hint = "; ".join(f"did you mean {(where + '.') if where else ''}{h[0]}?" for h in hints if h)
        return (f"config key {names} is not a setting claimflow knows{' (' + hint + ')' if hint else ''}. "
                f"Settings here: {', '.join(known)}. {fix}")  # fmt: skip
    if error.validator == "required":
        missing = error.message.split(" is a required")[0]
        return f"config {'key ' + where if where else ''} lacks {missing}. {fix}".replace("  ", " ")
    must = {
        "type": lambda v: f"must be {' or '.join(_article(t) for t in ([v] if isinstance(v, str) else v))}",
        "minimum": lambda v: f"must be at least {v}",
        "exclusiveMinimum": lambda v: f"must be more than {v}",
        "maximum": lambda v: f"must be at most {v}",
        "enum": lambda v: f"must be one of {', '.join(map(str, v))}",
        "pattern": lambda v: f"must match {v}",
        "minItems": lambda v: f"must hold at least {v} item(s)",
        "maxItems": lambda v: f"must hold at most {v} item(s)",
    }.get(error.validator, lambda v: error.message)(error.validator_value)
    about = error.schema.get("description") or _parent_description(schema, error)
    return f"config key {where} is {error.instance!r}: {must}{f' ({about})' if about else ''}. {fix}"


def _path(parts) -> str:  # noqa: ANN001
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _article(kind: str) -> str:
    return {"integer": "an integer", "array": "a list", "object": "a mapping", "null": "empty",
            "boolean": "true or false", "number": "a number", "string": "a string"}.get(kind, kind)  # fmt: skip


def _parent_description(schema: dict[str, Any], error) -> str | None:  # noqa: ANN001
    """A list item's rule has no description of its own: the list's says what it is."""
    node: Any = schema
    found = None
    for step in list(error.absolute_schema_path)[:-1]:
        if isinstance(node, dict) and "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            break
        if isinstance(node, dict) and node.get("description"):
            found = node["description"]
    return found


def read_file(path: str | Path) -> dict[str, Any]:
    """One config file's settings (not merged, not validated): a missing file or a YAML error
    raises ConfigError naming the file (and the line)."""
    return _read(Path(path))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' was not found; check the path given with --configfile") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file '{path}' cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file '{path}' is not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of settings, not {type(data).__name__}")
    return data


def yaml_problem(error: yaml.YAMLError) -> str:
    """'line 3, column 7: mapping values are not allowed here' (YAML's own words, 1-based)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}" + (f" ({context})" if context else "") + ". Fix that line (YAML indents with spaces)"
