"""Snakemake entry point for rule summary."""

from claimflow.core import atomic, layout, logs
from claimflow.store import said, summary

log = logs.setup(snakemake.log[0])
# The stored markers name the videos (the summaries' markers, where on, only make the rule wait).
vids = [atomic.read_json(path)["vid"] for path in snakemake.input.markers if path.endswith(layout.STORED)]
rows = summary.write(snakemake.params.database, vids, snakemake.output.tsv, snakemake.output.usage)
log.info("summary of %d videos written to %s", len(rows), snakemake.output.tsv)
# What was said, searchable by meaning: the videos stored since the last coding, coded now so
# that the first search of a finished batch waits for nothing. A failure costs the run nothing:
# the next search by meaning codes them.
try:
    coded = said.code_stored(
        snakemake.params.database, announce=lambda n: log.info("coding what was said in %d videos", n)
    )
    log.info("what was said in %d videos coded for the search by meaning", coded)
except Exception as exc:  # noqa: BLE001  (a convenience of the search; never the batch's failure)
    log.warning(
        "what was said is not coded for the search by meaning (%s: %s): the next `claimflow search --said "
        "--meaning` codes it",
        type(exc).__name__,
        exc,
    )
