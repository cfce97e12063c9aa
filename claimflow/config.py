"""The workflow's configuration outside Snakemake: the shipped defaults, then each
`--configfile` merged key by key (Snakemake's own rule), validated by the same schema with its
defaults filled in. The `claimflow` command reads config exactly as the workflow does."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

WORKFLOW_DIR = Path(__file__).resolve().parent.parent
DEFAULTS = WORKFLOW_DIR / "config" / "config.yaml"
SCHEMA = WORKFLOW_DIR / "config" / "schema.yaml"


class ConfigError(ValueError):
    pass


def load(configfiles: Iterable[str | Path] = (), overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merged, validated config with the schema's defaults filled in; `overrides` last, as
    Snakemake's `--config` would."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import update_config, validate

    config = _read(DEFAULTS)
    for path in configfiles:
        update_config(config, _read(Path(path)))
    if overrides:
        update_config(config, copy.deepcopy(overrides))
    try:
        validate(config, str(SCHEMA), set_default=True)
    except WorkflowError as exc:
        raise ConfigError(str(exc)) from None
    return config


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' was not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file '{path}' is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of settings, not {type(data).__name__}")
    return data
