"""Snakemake entry point for rule download (thin: adapts the snakemake object)."""

from claimflow import parts
from claimflow.core import logs
from claimflow.core.settings import Settings
from claimflow.download import accounts
from claimflow.download import stage as download

logs.setup(snakemake.log[0])
# Everything a download uses is a runtime setting: changing accounts or pacing never
# re-downloads a finished video.
settings = Settings.from_config(snakemake.config)
every = accounts.from_config(snakemake.config)
captions = settings.transcribe
download.run(
    vid=snakemake.wildcards.vid,
    url=snakemake.params.url,
    # The account is the slot this job booked, so the scheduler's plan and the download agree.
    booked=accounts.booked_from_resources(snakemake.resources, every),
    accounts=every,
    audio_out=snakemake.output.audio,
    manifest_out=snakemake.output.manifest,
    state_dir=f"{snakemake.params.state}/accounts",
    pacing=settings.pacing,
    results_dir=snakemake.params.results,
    captions_out=snakemake.output.captions,
    captions_langs=captions.captions_langs if captions.prefer_captions else None,
    options=settings.download,
    fetcher=parts.fetcher(snakemake.config),
    # The captions pass's record (none for a video downloaded before the pass existed).
    found=snakemake.input.get("found") or None,
    roads_settings=settings.captions,
)
