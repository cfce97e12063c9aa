"""Snakemake entry point for rule link."""

import time

from claimflow.core import atomic, logs
from claimflow.core.settings import LinkResult, Settings, from_param
from claimflow.knowledge import embed
from claimflow.store import clusters

log = logs.setup(snakemake.log[0])
settings = from_param(LinkResult, snakemake.params.settings)
record = embed.Record.from_json(atomic.read_json(snakemake.input.embeddings))
linking = clusters.Linking(same=settings.same, near=settings.near, pairs_per_claim=settings.pairs_per_claim)
# How long to wait for another program's write lock is the store's runtime setting.
wait = Settings.from_config(snakemake.config).store.busy_timeout
linked = clusters.link_record(snakemake.params.database, record, linking, timeout=wait)
log.info("%s: %d claims linked, %d joined to other videos' claims, %d clusters merged, %d candidate pairs",
         linked.vid, linked.claims, linked.joined, linked.clusters_merged, linked.pairs)  # fmt: skip
atomic.write_json(snakemake.output.marker, {"vid": linked.vid, "claims": linked.claims, "joined": linked.joined,
                                            "clusters_merged": linked.clusters_merged, "pairs": linked.pairs,
                                            "linked_at": time.time()})  # fmt: skip
