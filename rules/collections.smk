# Collections (channels, playlists, feeds): listed by a job, never at parse time, so a dry run
# makes no request. list_collection asks the site (paced like a download: it books its
# account's slot and takes its turn); select_collection applies the filters and is the
# checkpoint the batch's videos are read from. `claimflow refresh` reruns list_collection.


rule list_collection:
    output:
        listing=RESULTS.collection("{cid}", cf_layout.LISTING),
    log:
        RESULTS.log("list_collection", "{cid}"),
    benchmark:
        RESULTS.benchmark("list_collection", "{cid}")
    localrule: not SETTINGS.download.on_compute_nodes
    conda:
        "../envs/download.yaml"
    resources:
        **get_collection_account_resources(),
    params:
        url=get_collection_url,
        kind=get_collection_kind,
        state=STATE.root,
    script:
        "../scripts/list_collection.py"


checkpoint select_collection:
    input:
        listing=rules.list_collection.output.listing,
    output:
        selection=RESULTS.collection("{cid}", cf_layout.SELECTION),
    log:
        RESULTS.log("select_collection", "{cid}"),
    conda:
        "../envs/download.yaml"
    params:
        # A changed filter reselects from the listing on disk: no request to the site.
        filters=get_collection_filters,
    script:
        "../scripts/select_collection.py"


rule store_collection:
    input:
        selection=rules.select_collection.output.selection,
    output:
        marker=RESULTS.collection("{cid}", cf_layout.COLLECTION_STORED),
    log:
        RESULTS.log("store_collection", "{cid}"),
    conda:
        "../envs/store.yaml"
    params:
        database=get_database(),
        database_id=get_database_id(),
    script:
        "../scripts/store_collection.py"
