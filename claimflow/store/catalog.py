"""What each table, view and column of the results database holds, said once.

`claimflow browse` gives it to Datasette as the tables' titles and descriptions, and
docs/database.md is written from it (python -m claimflow.commands.browse --write-docs);
tests/test_browse.py checks it against a database made by every migration, so a column added
without a word here fails the suite rather than going undescribed.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    description: str
    columns: dict[str, str]
    view: bool = False
    # The column a row is named by where another table points at it (Datasette's label_column).
    label: str | None = None
    # The columns a reader narrows by (Datasette's facets): few values each.
    facets: tuple[str, ...] = field(default=())
    # The full-text index over the table, and the column its rows are matched by.
    search: tuple[str, str] | None = None
    sort_desc: str | None = None


_VID = "the video's id (yt-dlp's extractor and id, as in results/<vid>/)"
_UTC = "the same time in UTC, as people read it"

TABLES = (
    Table("videos", "Videos", "One row per stored video: its outcome, what it is, where it came from and what "
          "its results cost.", {
              "vid": _VID,
              "status": "its outcome: ok, partial, unavailable, no_speech or not_english (failed and pending "
                        "videos are in results/summary.tsv, not here)",
              "reason": "why, when the outcome is not ok",
              "title": "the title as the site gave it", "channel": "the channel or uploader",
              "duration": "seconds of audio", "upload_date": "the upload date, YYYYMMDD as yt-dlp gives it",
              "source": "the address the video was downloaded from", "account": "the download account's name "
              "(never its cookies)", "language": "the transcript's language",
              "transcript_source": "what made the transcript: the Whisper model, or the caption track",
              "mine_prompt": "the mining prompt's version and hash", "evaluate_prompt": "the evaluation prompt's "
              "version and hash", "llm_model": "the provider and model that mined the claims",
              "prompt_tokens": "LLM prompt tokens spent on the video", "completion_tokens": "LLM completion tokens",
              "stored_at": "when it was stored, in seconds since 1970", "llm_requests": "LLM requests made",
              "llm_cached": "LLM answers taken from the cache (cost nothing)",
              "cost_usd": "the estimated LLM cost in US dollars (empty where a model has no price)",
              "provenance": "JSON: what produced each stage's results (models, device, compute type, prompts)",
              "road": "the road its transcript took: captions or audio",
              "road_reason": "why that road", "captions_wer": "the word error rate of the captions against "
              "Whisper, for a captions gate's sample video", "stored_utc": _UTC,
          }, label="title", facets=("status", "channel", "road"), sort_desc="stored_at"),
    Table("segments", "Transcript segments", "What was said: every transcript segment, with its time.", {
        "vid": _VID, "segment_id": "the segment's number in the transcript", "start": "seconds into the video",
        "end": "seconds into the video", "text": "what was said",
    }, search=("segments_fts", "rowid")),
    Table("claims", "Claims", "The claims the LLM mined from each video's transcript, each grounded in quotes "
          "(see evidence).", {
              "vid": _VID, "claim_id": "the claim's id within the video",
              "claim_text": "the claim, as a sentence that stands on its own",
              "claim_type": "factual, causal, normative, forecast or definition",
              "domain": "its field", "stance": "asserts, questions, opposes or neutral",
              "supported": "1 when its quotes were found in the transcript",
              "window": "the transcript window it was mined from",
          }, label="claim_text", facets=("claim_type", "domain", "stance"), search=("claims_fts", "rowid")),
    Table("evaluations", "Evaluations", "Each claim as the evaluation scored it: the decision, the scores, the "
          "tier and the rank within the video.", {
              "vid": _VID, "claim_id": "the claim (see claims)",
              "decision": "accept, reject, merge (into another claim) or unrated",
              "merge_with": "JSON: the claims it was merged with", "importance": "0 to 10",
              "novelty": "0 to 10", "confidence": "0 to 10",
              "dimensions": "JSON: the seven dimension scores", "score": "the combined score",
              "tier": "A, B, C or D, by score (evaluate.tiers)", "rank": "its rank within the video, 1 the best",
          }, facets=("decision", "tier")),
    Table("evidence", "Evidence", "The quotes that ground each claim, term, person and mental model, with the "
          "moment they were said.", {
              "evidence_id": "the quote's key", "vid": _VID,
              "owner_kind": "what the quote grounds: claim, jargon, person or mental_model",
              "owner_id": "the claim's or item's id within the video",
              "segment_id": "the transcript segment it starts in", "quote": "the words, as the transcript has them",
              "t0": "seconds into the video where it starts", "t1": "seconds where it ends",
              "match": "how it was found: exact, fuzzy or statement", "score": "the match's score (100: exact)",
          }, facets=("owner_kind", "match"), search=("quotes_fts", "evidence_id")),
    Table("jargon", "Terms", "Terms each video uses, with their definitions.", {
        "vid": _VID, "item_id": "the term's id within the video", "term": "the term", "definition": "what it means",
    }, label="term"),
    Table("people", "People", "People and organisations each video names.", {
        "vid": _VID, "item_id": "the person's id within the video", "name": "the name as said",
        "entity_type": "person or organisation", "role": "their role in the video",
    }, label="name", facets=("entity_type",)),
    Table("mental_models", "Mental models", "The mental models each video explains.", {
        "vid": _VID, "item_id": "the model's id within the video", "name": "its name", "definition": "what it is",
    }, label="name"),
    Table("video_summaries", "Summaries", "A summary per video, with its key points.", {
        "vid": _VID, "summary": "the summary", "key_points": "JSON list: the key points, the most important first",
        "model": "the provider and model that wrote it", "segments_sent": "the transcript segments the request "
        "carried", "segments": "the transcript's segments", "summarized_at": "when, in seconds since 1970",
        "summarized_utc": _UTC,
    }, search=("summaries_fts", "rowid")),
    Table("collections", "Collections", "The channels, playlists and feeds the batch lists its videos from.", {
        "cid": "the collection's name", "url": "its address", "kind": "channel, playlist or feed",
        "title": "its title", "listed_at": "when it was last listed, in seconds since 1970",
        "filters": "JSON: the filters that chose its videos", "counts": "JSON: listed, kept, removed per filter",
        "listed_utc": _UTC,
    }, label="title", facets=("kind",)),
    Table("collection_videos", "Collections' videos", "Which videos each collection holds, kept by its filters "
          "or not; a video in two collections has two rows.", {
              "cid": "the collection", "vid": _VID, "entry_id": "the entry's id in the listing",
              "position": "its place in the listing", "title": "its title in the listing",
              "upload_date": "YYYYMMDD", "listed": "0 when the latest listing no longer has it",
              "kept": "1 when the filters kept it", "first_listed_at": "first listed, in seconds since 1970",
              "last_listed_at": "last listed, in seconds since 1970", "first_listed_utc": _UTC,
              "last_listed_utc": _UTC,
          }, facets=("cid", "listed", "kept")),
    Table("caption_gates", "Captions gates", "Per channel, whether its automatic captions are good enough to "
          "take instead of the audio (docs/downloads.md).", {
              "channel": "the channel", "decision": "accepted, rejected or undecided",
              "median_wer": "the sample's median word error rate", "max_wer": "the sample's highest",
              "sample": "JSON: the sample videos and their word error rates",
              "started": "when the sample began, in seconds since 1970", "decided": "when it was decided",
              "started_utc": _UTC, "decided_utc": _UTC,
          }, facets=("decision",)),
    Table("claim_clusters", "Claim clusters", "Claims that say the same thing across videos, by cluster.", {
        "claim_key": "the claim, as <vid>/<claim id>", "vid": _VID, "cluster": "the cluster: its smallest member key",
    }),
    Table("claim_pairs", "Candidate pairs", "Claims near each other but not the same, for the LLM to judge.", {
        "a": "one claim, <vid>/<claim id>", "b": "the other (a < b)", "similarity": "their embeddings' cosine",
        "negation": "1 when one is the other's negation",
    }),
    Table("claim_judgements", "Judgements", "Candidate pairs as the LLM judged them.", {
        "a": "one claim, <vid>/<claim id>", "b": "the other", "relation": "same, supports, contradicts or unrelated",
        "reason": "the LLM's reason", "model": "the provider and model that judged",
    }, facets=("relation",)),
    Table("video_vectors", "Claim vectors", "Each video's claim embeddings, the index the link jobs read.", {
        "vid": _VID, "claim_ids": "JSON: the claims in the order of the vectors", "claims": "how many",
        "vectors": "int8 vectors, claims x dimensions", "model": "the embedding model",
    }),
    Table("said_codes", "Segment codes", "Each video's segments as sign codes, for the search by meaning.", {
        "vid": _VID, "model": "the model the codes came from", "segments": "how many",
        "segment_ids": "int32: the segments in the order of the codes", "codes": "32 bytes per segment",
    }),
    Table("outcomes", "Outcomes", "Every video of the batch with its outcome, as results/summary.tsv says it at "
          "the end of each run: the failed, held and pending too, which no other table has.", {
              "vid": _VID, "status": "ok, partial, unavailable, no_speech, not_english, failed:<stage>, "
              "interrupted:<stage>, budget:<stage> or pending (docs/outcomes.md)",
              "reason": "why, when not ok", "reason_class": "for an unavailable video, the kind of reason",
              "title": "the title, where known",
          }, facets=("status", "reason_class")),
    Table("meta", "About this database", "The database's identity.", {"key": "the name", "value": "the value"}),
    Table("accepted_claims", "Accepted claims", "Every accepted claim with its scores, tier, video and the moment "
          "it is said (its first quote), best first within a video.", {
              "vid": _VID, "title": "the video's title", "channel": "the video's channel", "claim_id": "the claim",
              "claim_text": "the claim", "tier": "A, B, C or D", "score": "the combined score",
              "rank": "its rank within the video", "decision": "accept", "importance": "0 to 10",
              "novelty": "0 to 10", "confidence": "0 to 10", "claim_type": "its type", "domain": "its field",
              "stance": "its stance", "quote": "its first quote", "at": "where the quote starts, h:mm:ss",
              "moment": "a link to that moment",
          }, view=True, facets=("tier", "channel", "claim_type")),
    Table("quotes", "Quotes", "Every quote with its video and a link to the moment.", {
        "evidence_id": "the quote's key (see evidence)", "vid": _VID, "title": "the video's title",
        "owner_kind": "what it grounds", "owner_id": "the claim's or item's id", "quote": "the words",
        "at": "h:mm:ss", "moment": "a link to that moment", "match": "exact, fuzzy or statement",
    }, view=True, facets=("owner_kind",)),
    Table("contested_claims", "Contested claims", "Pairs of claims the LLM judged to contradict each other.", {
        "a": "one claim, <vid>/<claim id>", "a_text": "what it says", "b": "the other", "b_text": "what it says",
        "reason": "the LLM's reason", "model": "the model that judged",
    }, view=True),
)  # fmt: skip

BY_NAME = {table.name: table for table in TABLES}
