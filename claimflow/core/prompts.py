"""Versioned prompt files (claimflow/knowledge/prompts/, mining's and evaluation's). A prompt's
version is part of its file name (`mine.v1.md`); editing a prompt means adding `mine.v2.md` and
pointing the config at it, and its content hash is part of its stage's result settings (a
Snakemake param), so exactly the affected stage reruns. Here in the core because the settings
compute that hash."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

PROMPT_DIR = Path(__file__).resolve().parent.parent / "knowledge" / "prompts"


def path(name: str) -> Path:
    """A bundled prompt by name (`mine.v1`), or your own prompt file by path (`my/mine.md`)."""
    found = Path(name).expanduser() if name.endswith(".md") else PROMPT_DIR / f"{name}.md"
    if not found.is_file():
        available = sorted(p.stem for p in PROMPT_DIR.glob("*.md"))
        raise FileNotFoundError(f"prompt {name!r} not found in {PROMPT_DIR}; available: {', '.join(available)}")
    return found


def load(name: str) -> str:
    return path(name).read_text(encoding="utf-8").strip()


def _example_path(name: str) -> Path:
    prompt = path(name)
    return prompt.with_name(prompt.name[: -len(".md")] + ".example.json")


def example(name: str) -> dict[str, Any] | None:
    """The one-shot example shown before the real input, if the prompt has one."""
    found = _example_path(name)
    return json.loads(found.read_text(encoding="utf-8")) if found.is_file() else None


def fingerprint(name: str) -> str:
    """Hash of the prompt and its example: changes exactly when what the model sees changes."""
    digest = hashlib.sha256(load(name).encode())
    extra = _example_path(name)
    if extra.is_file():
        digest.update(extra.read_bytes())
    return f"{Path(name).stem if name.endswith('.md') else name}:{digest.hexdigest()[:12]}"
