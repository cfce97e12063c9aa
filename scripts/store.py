"""Snakemake entry point for rule store."""

import time

from claimflow.core import atomic, logs
from claimflow.core.settings import Settings
from claimflow.download import gate
from claimflow.store import database as store

log = logs.setup(snakemake.log[0])
docs = {k: atomic.read_json(snakemake.input[k]) for k in ("manifest", "transcript", "claims", "evaluation")}
vid = snakemake.wildcards.vid
# How long to wait for another program's write lock is a runtime setting: from config.
settings = Settings.from_config(snakemake.config)
wait = settings.store.busy_timeout
rows = store.rows_for(docs["manifest"], docs["transcript"], docs["claims"], docs["evaluation"])
counts = store.store_video(snakemake.params.database, vid, rows, timeout=wait)
log.info("%s: stored %s", vid, counts)
# A sample of the automatic captions gate: its channel's gate as it stands (the state is runtime,
# like the lock's wait; the decision is the last sample's to store).
sampled = (docs["transcript"].get("gate") or {}).get("channel")
if sampled and (state := gate.of(settings.state, sampled)):
    store.store_gate(snakemake.params.database, state, timeout=wait)
    log.info("%s: %s", vid, gate.line(state))
atomic.write_json(
    snakemake.output.marker,
    {"vid": vid, "database": snakemake.params.database, "rows": counts, "stored_at": time.time()},
)
