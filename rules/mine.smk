# mine: LLM over token windows of the transcript; every quote located in the transcript.


rule mine:
    input:
        transcript=f"{RESULTS}/{{vid}}/transcript.json",
    output:
        claims=f"{RESULTS}/{{vid}}/claims.json",
    log:
        f"{LOGS}/mine/{{vid}}.log",
    benchmark:
        f"{BENCH}/mine/{{vid}}.tsv"
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
