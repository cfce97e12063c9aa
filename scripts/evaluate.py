"""Snakemake entry point for rule evaluate."""

from claimflow import atomic, benchmode, evaluate, llm, logs, retries
from claimflow.settings import EvaluateResult, Settings, from_param

logs.setup(snakemake.log[0])
settings = from_param(EvaluateResult, snakemake.params.settings)  # a change reruns evaluation
runtime = Settings.from_config(snakemake.config)  # endpoint, key, rates, timeouts: rerun nothing
if (pause := benchmode.seconds(snakemake.config, "evaluate")) is not None:  # benchmark mode only
    result = benchmode.evaluation(snakemake.wildcards.vid, pause, atomic.read_json(snakemake.input.claims))
else:
    client = llm.client(settings.llm, runtime.llm_runtime, threads=snakemake.threads, state_dir=runtime.state)
    result = evaluate.run(atomic.read_json(snakemake.input.claims), client, settings)
atomic.write_json(snakemake.output.evaluation, result)
if result["status"] == "partial":  # the next run retries what failed (claimflow.retries)
    retries.record_partial(runtime.results, "evaluate", snakemake.wildcards.vid)
