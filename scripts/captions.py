"""Snakemake entry point for rule captions (the captions pass)."""

from claimflow import parts
from claimflow.core import logs
from claimflow.core.settings import Settings
from claimflow.download import captionspass

logs.setup(snakemake.log[0])
# Everything the pass uses is a runtime setting: its pacing never reruns a finished video.
settings = Settings.from_config(snakemake.config)
captionspass.run(
    vid=snakemake.wildcards.vid,
    url=snakemake.params.url,
    out=snakemake.output.found,
    state_root=snakemake.params.state,
    settings=settings.captions,
    langs=settings.transcribe.captions_langs,
    options=settings.download,
    adaptive=settings.pacing.adaptive,
    socket_timeout=settings.pacing.socket_timeout,
    fetcher=parts.captions_fetcher(snakemake.config),
)
