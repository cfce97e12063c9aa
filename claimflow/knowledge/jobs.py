"""What the mine and evaluate rules' scripts run: the stage's result settings from its param (a
change reruns it), the runtime settings from the config (a change reruns nothing), the LLM client
the stage is given (claimflow/parts), its input document in, its output document out, and a
partial result recorded for the next run to retry (claimflow/batch/retries.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claimflow import parts
from claimflow.batch import retries
from claimflow.core import atomic, logs
from claimflow.core.settings import EvaluateResult, MineResult, Settings, from_param
from claimflow.knowledge import evaluate, mine


@dataclass(frozen=True)
class Stage:
    settings: type
    run: Any  # (input document, client, settings) -> output document
    input: str  # the rule's named input and output
    output: str


STAGES = {
    "mine": Stage(MineResult, mine.run, "transcript", "claims"),
    "evaluate": Stage(EvaluateResult, evaluate.run, "claims", "evaluation"),
}


def run(snakemake: Any, name: str) -> dict[str, Any]:
    """One mine or evaluate job, from Snakemake's `snakemake` object."""
    logs.setup(snakemake.log[0])
    stage = STAGES[name]
    settings = from_param(stage.settings, snakemake.params.settings)  # a change reruns the stage
    runtime = Settings.from_config(snakemake.config)  # endpoint, key, rates, timeouts: rerun nothing
    client = parts.llm_client(snakemake.config, name, settings.llm, runtime.llm_runtimes[name], snakemake.threads,
                              runtime.state)  # fmt: skip
    result = stage.run(atomic.read_json(snakemake.input[stage.input]), client, settings)
    atomic.write_json(snakemake.output[stage.output], result)
    if result["status"] == "partial":  # the next run retries what failed (claimflow/batch/retries.py)
        retries.record_partial(runtime.results, name, snakemake.wildcards.vid)
    return result
