# mine: LLM over token windows of the transcript; every quote located in the transcript.


rule mine:
    input:
        transcript=RESULTS.video("{vid}", cf_layout.TRANSCRIPT),
    output:
        claims=RESULTS.video("{vid}", cf_layout.CLAIMS),
    log:
        RESULTS.log("mine", "{vid}"),
    benchmark:
        RESULTS.benchmark("mine", "{vid}")
    conda:
        "../envs/llm.yaml"
    threads: 2
    resources:
        llm=1,
    params:
        settings=get_mine_settings(),
        retry_round=get_retry_round("mine"),
    script:
        "../scripts/mine.py"
