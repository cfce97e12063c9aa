"""Snakemake entry point for checkpoint select_collection."""

from claimflow.batch import collections
from claimflow.batch.filters import Filters
from claimflow.core import atomic, logs

log = logs.setup(snakemake.log[0])
listing = atomic.read_json(snakemake.input.listing)
selection = collections.select(listing, Filters(**snakemake.params.filters))
log.info("%s", collections.describe_counts(selection["collection"], selection["counts"]))
atomic.write_json(snakemake.output.selection, selection)
