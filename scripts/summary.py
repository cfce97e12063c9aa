"""Snakemake entry point for rule summary."""

from claimflow.core import atomic, logs
from claimflow.store import summary

log = logs.setup(snakemake.log[0])
vids = [atomic.read_json(path)["vid"] for path in snakemake.input.markers]
rows = summary.write(snakemake.params.database, vids, snakemake.output.tsv, snakemake.output.usage)
log.info("summary of %d videos written to %s", len(rows), snakemake.output.tsv)
