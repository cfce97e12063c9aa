"""Snakemake entry point for rule summary."""

from claimflow.core import atomic, layout, logs
from claimflow.store import summary

log = logs.setup(snakemake.log[0])
# The stored markers name the videos (the summaries' markers, where on, only make the rule wait).
vids = [atomic.read_json(path)["vid"] for path in snakemake.input.markers if path.endswith(layout.STORED)]
rows = summary.write(snakemake.params.database, vids, snakemake.output.tsv, snakemake.output.usage)
log.info("summary of %d videos written to %s", len(rows), snakemake.output.tsv)
