"""Snakemake entry point for rule mine (claimflow/knowledge/jobs.py does the work)."""

from claimflow.knowledge import jobs

jobs.run(snakemake, "mine")
