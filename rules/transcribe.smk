# transcribe: faster-whisper, model loaded once per job; captions written as segments arrive.


rule transcribe:
    input:
        audio=RESULTS.video("{vid}", cf_layout.AUDIO),
        manifest=RESULTS.video("{vid}", cf_layout.DOWNLOAD),
        captions=RESULTS.video("{vid}", cf_layout.CAPTIONS),
    output:
        json=RESULTS.video("{vid}", cf_layout.TRANSCRIPT),
        srt=RESULTS.video("{vid}", cf_layout.TRANSCRIPT_SRT),
        vtt=RESULTS.video("{vid}", cf_layout.TRANSCRIPT_VTT),
        txt=RESULTS.video("{vid}", cf_layout.TRANSCRIPT_TXT),
    log:
        RESULTS.log("transcribe", "{vid}"),
    benchmark:
        RESULTS.benchmark("transcribe", "{vid}")
    conda:
        "../envs/transcribe.yaml"
    threads: get_transcribe_threads
    resources:
        mem_mb=get_transcribe_mem_mb,
        gpu=get_transcribe_gpus,
    params:
        settings=get_transcribe_settings(),
        vocabulary=get_vocabulary(),
    script:
        "../scripts/transcribe.py"
