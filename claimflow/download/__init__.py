"""The download stage: one video's audio through yt-dlp (`ytdlp`: options, the fetcher), paced per
account (`accounts`, `pace`, `health`, `buffer`), its failures classified (`outcomes`), the run's
stop when the environment is broken (`envstop`), cookie files checked and never modified
(`cookies`), fetched captions kept as WebVTT (`captions`), unavailable videos and their retry
(`unavailable`); `stage` is the job itself, failing over between accounts."""
