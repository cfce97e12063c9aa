"""Snakemake entry point for rule download (thin: adapts the snakemake object)."""

from claimflow import accounts, download, logs

logs.setup(snakemake.log[0])
config = snakemake.config
every = accounts.from_config(config)
# The account is the slot this job booked, so the scheduler's plan and the download agree.
booked = next(a.name for a in every if snakemake.resources.get(a.resource, 0))
download.run(
    vid=snakemake.wildcards.vid,
    url=snakemake.params.url,
    booked=booked,
    accounts=every,
    audio_out=snakemake.output.audio,
    manifest_out=snakemake.output.manifest,
    state_dir=f"{snakemake.params.state}/accounts",
    pacing=config["pacing"],
    results_dir=snakemake.params.results,
    socket_timeout=config["pacing"]["socket_timeout"],
    captions_out=snakemake.output.captions,
    captions_langs=config["transcribe"]["captions_langs"] if config["transcribe"]["prefer_captions"] else None,
)
