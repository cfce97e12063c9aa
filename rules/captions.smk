# captions: the captions pass, one small request per video for its info and caption tracks (no
# media), on its own pacing and its own slot (captions_pass=1), before any account's turn. The
# download job reads what it found: a video with usable captions takes no account's turn.


rule captions:
    output:
        found=RESULTS.video("{vid}", cf_layout.FOUND),
    log:
        RESULTS.log("captions", "{vid}"),
    benchmark:
        RESULTS.benchmark("captions", "{vid}")
    # Where the downloads run (rules/download.smk): the same network.
    localrule: not SETTINGS.download.on_compute_nodes
    conda:
        "../envs/download.yaml"
    resources:
        captions_pass=1,
    params:
        url=get_url,
        state=STATE.root,
    script:
        "../scripts/captions.py"
