# summarize: a short summary and key points of each video from the LLM (one request, cached);
# a local rule since it writes the database, as the store does.


rule summarize:
    input:
        transcript=RESULTS.video("{vid}", cf_layout.TRANSCRIPT),
        manifest=RESULTS.video("{vid}", cf_layout.DOWNLOAD),
    output:
        summarized=RESULTS.video("{vid}", cf_layout.SUMMARIZED),
    log:
        RESULTS.log("summarize", "{vid}"),
    benchmark:
        RESULTS.benchmark("summarize", "{vid}")
    localrule: True
    conda:
        "../envs/llm.yaml"
    threads: 2
    resources:
        llm=1,
    params:
        settings=get_summarize_settings(),
        database=get_database(),
        # A new database reruns every summarize job, as every store job: the summaries go back in.
        database_id=get_database_id(),
    script:
        "../scripts/summarize.py"
