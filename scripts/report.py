"""Snakemake entry point for rules batch_report and report (the same report, now)."""

from pathlib import Path

from claimflow import logs, report
from claimflow.settings import Settings

log = logs.setup(snakemake.log[0])
# The configured gaps and buffer limits the figures draw are runtime settings: from config, so
# changing them reruns nothing (as for the download rule).
pacing = Settings.from_config(snakemake.config).pacing
html = snakemake.output.get("html") or snakemake.params.html
figures = Path(snakemake.output.downloads).parent if snakemake.output else None
data = report.build(pacing, list(snakemake.params.vids), snakemake.params.results, html, figures)
log.info("report of %d videos written to %s", len(data.rows), html)
