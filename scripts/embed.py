"""Snakemake entry point for rule embed."""

from claimflow.core import atomic, layout, logs
from claimflow.core.settings import EmbedResult, from_param
from claimflow.knowledge import embed

log = logs.setup(snakemake.log[0])
settings = from_param(EmbedResult, snakemake.params.settings)
vid = snakemake.wildcards.vid
claims = atomic.read_json(snakemake.input.claims)
evaluation = atomic.read_json(snakemake.input.evaluation)
accepted = embed.accepted_claims(claims, evaluation)
# The model loads only for a video with claims to embed (most of its cost).
# An endpoint's address and key are runtime settings, from the config (they rerun nothing).
state = layout.State.of(snakemake.config["state"])
embedder = embed.embedder(settings.embedding, snakemake.config, state.embedding_cache) if accepted else None
record = embed.embed_video(vid, claims, evaluation, embedder) if embedder else embed.empty(vid, settings.embedding)
log.info("%s: %d accepted claims embedded (%s)", vid, len(record.claim_ids), record.model)
atomic.write_json(snakemake.output.embeddings, record.as_json())
