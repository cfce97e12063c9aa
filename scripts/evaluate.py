"""Snakemake entry point for rule evaluate."""

from claimflow import atomic, evaluate, llm, logs

logs.setup(snakemake.log[0])
config = snakemake.config
client = llm.from_config(config["llm"], threads=snakemake.threads, state_dir=config["state"])
result = evaluate.run(atomic.read_json(snakemake.input.claims), client, config["evaluate"])
atomic.write_json(snakemake.output.evaluation, result)
