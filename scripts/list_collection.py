"""Snakemake entry point for rule list_collection."""

from claimflow.batch import collections
from claimflow.core import logs
from claimflow.core.settings import Settings
from claimflow.download import accounts

logs.setup(snakemake.log[0])
# Like a download, everything a listing uses is a runtime setting (accounts, pacing).
settings = Settings.from_config(snakemake.config)
every = accounts.from_config(snakemake.config)
# The account is the slot this job booked (as a download's is), not a param: adding an account
# must not re-list every collection.
booked = accounts.booked_from_resources(snakemake.resources, every)
account = next(a for a in every if a.name == booked)
collection = collections.Collection(snakemake.wildcards.cid, snakemake.params.url, snakemake.params.kind, "")
collections.run_listing(
    collection,
    account,
    state_dir=f"{snakemake.params.state}/accounts",
    pacing=settings.pacing,
    listing_out=snakemake.output.listing,
    socket_timeout=settings.pacing.socket_timeout,
    passthrough=dict(settings.download.ytdlp),
)
