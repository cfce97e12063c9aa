"""Snakemake entry point for rule mine."""

from claimflow import atomic, llm, logs, mine

logs.setup(snakemake.log[0])
config = snakemake.config
client = llm.from_config(config["llm"], threads=snakemake.threads, state_dir=config["state"])
result = mine.run(atomic.read_json(snakemake.input.transcript), client, config["mine"])
atomic.write_json(snakemake.output.claims, result)
