# The report: results/report.html, self-contained, built from whatever exists.
# `batch_report` ends the default target (after the summary); `report` has no output, so
# Snakemake runs it whenever asked and locks no file: `snakemake report` works at any moment,
# even beside a running batch, and never waits for unfinished videos.


rule batch_report:
    input:
        summary=rules.summary.output.tsv,
    output:
        html=f"{RESULTS}/report.html",
        downloads=report(
            f"{RESULTS}/report/downloads.svg",
            caption="../report/downloads.rst",
            category="Downloads",
        ),
        buffer=report(
            f"{RESULTS}/report/buffer.svg",
            caption="../report/buffer.rst",
            category="Downloads",
        ),
        throughput=report(
            f"{RESULTS}/report/throughput.svg",
            caption="../report/throughput.rst",
            category="Stages",
        ),
        durations=report(
            f"{RESULTS}/report/durations.svg",
            caption="../report/durations.rst",
            category="Stages",
        ),
        tiers=report(
            f"{RESULTS}/report/tiers.svg",
            caption="../report/tiers.rst",
            category="Claims",
        ),
        tokens=report(
            f"{RESULTS}/report/tokens.svg",
            caption="../report/tokens.rst",
            category="Claims",
        ),
    log:
        f"{LOGS}/report.log",
    benchmark:
        f"{BENCH}/report.tsv"
    conda:
        "../envs/store.yaml"
    params:
        results=get_summary_dir,
        vids=get_batch_vids,
    script:
        "../scripts/report.py"


rule report:
    log:
        f"{LOGS}/report-now.log",
    conda:
        "../envs/store.yaml"
    params:
        results=RESULTS,
        vids=get_batch_vids,
        html=f"{RESULTS}/report.html",
    script:
        "../scripts/report.py"
