# download: yt-dlp, bestaudio as served, paced per account under a file lock; or, for a video
# whose captions pass found usable captions, the captions road (no turn, no audio).
# Each job books its account's slot (account_<name>=1), so the scheduler runs one download
# per account at a time; the lock and the state file make the gap hold across processes.


rule download:
    input:
        unpack(get_captions_found),
    output:
        audio=RESULTS.video("{vid}", cf_layout.AUDIO),
        manifest=RESULTS.video("{vid}", cf_layout.DOWNLOAD),
        captions=RESULTS.video("{vid}", cf_layout.CAPTIONS),
    log:
        RESULTS.log("download", "{vid}"),
    benchmark:
        RESULTS.benchmark("download", "{vid}")
    # On the main process's host unless download.on_compute_nodes (a cluster executor only).
    localrule: not SETTINGS.download.on_compute_nodes
    conda:
        "../envs/download.yaml"
    resources:
        **get_account_resources(),
    params:
        url=get_url,
        state=STATE.root,
        results=get_results_dir,
    script:
        "../scripts/download.py"


# `snakemake downloads`: fetch the whole batch's audio without processing it yet.
rule downloads:
    input:
        get_download_manifests,
