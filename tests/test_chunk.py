from claimflow.knowledge.chunk import count_tokens, windows


def _segments(n: int, words: int = 40) -> list[dict]:
    return [
        {"id": i + 1, "start": i * 10.0, "end": i * 10.0 + 9.5, "text": " ".join(f"word{i}x{j}" for j in range(words))}
        for i in range(n)
    ]


def test_token_counts_are_real_bpe_counts_offline():
    short, long = count_tokens(["hello world", "hello world " * 50])
    assert 1 <= short <= 4
    assert long > 40 * short


def test_windows_end_on_segment_boundaries_and_respect_max():
    segs = _segments(60)
    sizes = dict(zip([s["id"] for s in segs], count_tokens([s["text"] for s in segs]), strict=True))
    wins = windows(segs, chunk_tokens=750, min_tokens=300, max_tokens=1000, overlap_tokens=100)
    assert len(wins) > 1
    covered = set()
    for win in wins:
        assert win.tokens == sum(sizes[i] for i in win.segment_ids)
        assert win.tokens <= 1000
        assert win.segment_ids == list(range(win.segment_ids[0], win.segment_ids[-1] + 1))  # contiguous
        covered.update(win.segment_ids)
    assert covered == set(sizes)  # nothing lost
    for win in wins[:-1]:
        assert win.tokens >= 300


def test_consecutive_windows_overlap_by_about_the_overlap():
    segs = _segments(60)
    sizes = dict(zip([s["id"] for s in segs], count_tokens([s["text"] for s in segs]), strict=True))
    wins = windows(segs, chunk_tokens=750, min_tokens=300, max_tokens=1000, overlap_tokens=250)
    for a, b in zip(wins, wins[1:], strict=False):
        shared = set(a.segment_ids) & set(b.segment_ids)
        assert shared, "windows must overlap"
        assert sum(sizes[i] for i in shared) <= 250
        assert b.segment_ids[0] > a.segment_ids[0]  # always advances


def test_a_segment_longer_than_max_gets_a_window_of_its_own():
    segs = _segments(3, words=5) + [{"id": 4, "start": 40, "end": 50, "text": "long " * 2000}]
    wins = windows(segs, chunk_tokens=100, min_tokens=10, max_tokens=200, overlap_tokens=0)
    assert wins[-1].segment_ids == [4]


def test_no_segments_no_windows():
    assert windows([]) == []
