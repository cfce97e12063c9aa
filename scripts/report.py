"""Snakemake entry point for rules batch_report and report (the same report, now)."""

from pathlib import Path

from claimflow import logs, report, settings

log = logs.setup(snakemake.log[0])
pacing = settings.from_param(settings.Pacing, snakemake.params.pacing)
html = snakemake.output.get("html") or snakemake.params.html
figures = Path(snakemake.output.downloads).parent if snakemake.output else None
data = report.build(pacing, list(snakemake.params.vids), snakemake.params.results, html, figures)
log.info("report of %d videos written to %s", len(data.rows), html)
