"""Snakemake entry point for checkpoint select_collection."""

from claimflow import atomic, collections, logs
from claimflow.filters import Filters

log = logs.setup(snakemake.log[0])
listing = atomic.read_json(snakemake.input.listing)
selection = collections.select(listing, Filters(**snakemake.params.filters))
log.info("%s", collections.describe_counts(selection["collection"], selection["counts"]))
atomic.write_json(snakemake.output.selection, selection)
