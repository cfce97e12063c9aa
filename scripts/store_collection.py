"""Snakemake entry point for rule store_collection."""

import time

from claimflow.batch import collections
from claimflow.core import atomic, logs
from claimflow.core.settings import Settings
from claimflow.store import database as store

log = logs.setup(snakemake.log[0])
selection = atomic.read_json(snakemake.input.selection)
wait = Settings.from_config(snakemake.config).store.busy_timeout
counts = store.store_collection(snakemake.params.database, selection, timeout=wait)
log.info("%s", collections.describe_counts(selection["collection"], selection["counts"]))
atomic.write_json(
    snakemake.output.marker,
    {"collection": selection["collection"], "database": snakemake.params.database, "rows": counts,
     "counts": selection["counts"], "stored_at": time.time()},
)  # fmt: skip
