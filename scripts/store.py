"""Snakemake entry point for rule store."""

import time

from claimflow import atomic, logs, store

log = logs.setup(snakemake.log[0])
docs = {k: atomic.read_json(snakemake.input[k]) for k in ("manifest", "transcript", "claims", "evaluation")}
vid = snakemake.wildcards.vid
conn = store.connect(snakemake.params.database)
try:
    counts = store.upsert(
        conn, vid, store.rows_for(docs["manifest"], docs["transcript"], docs["claims"], docs["evaluation"])
    )
finally:
    conn.close()
log.info("%s: stored %s", vid, counts)
atomic.write_json(
    snakemake.output.marker,
    {"vid": vid, "database": snakemake.params.database, "rows": counts, "stored_at": time.time()},
)
