"""Snakemake entry point for rule evaluate (claimflow/knowledge/jobs.py does the work)."""

from claimflow.knowledge import jobs

jobs.run(snakemake, "evaluate")
