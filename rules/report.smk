# The report: results/report.html, self-contained, built from whatever exists.
# `batch_report` ends the default target (after the summary); `report` has no output, so
# Snakemake runs it whenever asked and locks no file: `snakemake report` works at any moment,
# even beside a running batch, and never waits for unfinished videos.


rule batch_report:
    input:
        summary=rules.summary.output.tsv,
    output:
        html=RESULTS.report,
        downloads=report(
            RESULTS.figure("downloads"),
            caption="../report/downloads.rst",
            category="Downloads",
        ),
        buffer=report(
            RESULTS.figure("buffer"),
            caption="../report/buffer.rst",
            category="Downloads",
        ),
        throughput=report(
            RESULTS.figure("throughput"),
            caption="../report/throughput.rst",
            category="Stages",
        ),
        durations=report(
            RESULTS.figure("durations"),
            caption="../report/durations.rst",
            category="Stages",
        ),
        tiers=report(
            RESULTS.figure("tiers"),
            caption="../report/tiers.rst",
            category="Claims",
        ),
        tokens=report(
            RESULTS.figure("tokens"),
            caption="../report/tokens.rst",
            category="Claims",
        ),
    log:
        RESULTS.log("report"),
    benchmark:
        RESULTS.benchmark("report")
    conda:
        "../envs/store.yaml"
    params:
        results=get_summary_dir,
        vids=get_batch_vids,
    script:
        "../scripts/report.py"


rule report:
    log:
        RESULTS.log("report-now"),
    conda:
        "../envs/store.yaml"
    params:
        results=RESULTS.root,
        vids=get_batch_vids,
        html=RESULTS.report,
    script:
        "../scripts/report.py"
