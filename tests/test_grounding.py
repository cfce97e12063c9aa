from claimflow.knowledge.grounding import Text, ground, locate_by_statement, locate_quote

SEGMENTS = [
    {"id": 1, "start": 0.0, "end": 4.2, "text": "Compound interest is the most powerful force in personal finance."},
    {"id": 2, "start": 4.2, "end": 8.5, "text": "When you reinvest your returns, you earn interest on your interest."},
    {"id": 3, "start": 8.5, "end": 13.2, "text": "At 7% a year, money doubles roughly every 10 years."},
]
TEXT = Text(SEGMENTS)
FULL = " ".join(s["text"] for s in SEGMENTS)


def test_exact_quote_gets_times_from_its_segment():
    span = locate_quote("money doubles roughly every 10 years", TEXT)
    assert span.match == "exact"
    assert span.segment_ids == [3] and (span.t0, span.t1) == (8.5, 13.2)
    assert span.quote in FULL


def test_quote_across_two_segments_spans_both():
    span = locate_quote("personal finance. When you reinvest", TEXT)
    assert span.segment_ids == [1, 2]
    assert (span.t0, span.t1) == (0.0, 8.5)


def test_small_differences_are_tolerated_but_the_stored_quote_is_the_transcripts():
    span = locate_quote("when you re-invest your returns you earn interest on your interest", TEXT)
    assert span is not None and span.match == "fuzzy"
    assert span.quote in FULL
    assert span.segment_ids == [2]


def test_invented_and_too_short_quotes_are_not_found():
    assert locate_quote("the stock market always goes up in election years", TEXT) is None
    assert locate_quote("interest", TEXT) is None  # too short to be evidence
    assert locate_quote("compounded-interest.com", TEXT) is None


def test_statement_fallback_finds_a_restated_sentence():
    span = locate_by_statement("The most powerful force in personal finance is compound interest.", TEXT)
    assert span.segment_ids == [1] and span.match == "statement"
    assert locate_by_statement("Bonds are safer than stocks for retirees.", TEXT) is None


def test_ground_prefers_quotes_and_falls_back_to_the_statement():
    spans = ground(["nonsense nonsense nonsense words"], "Money doubles roughly every 10 years at 7% a year.", TEXT)
    assert [s.match for s in spans] == ["statement"]
    spans = ground(["you earn interest on your interest"], "anything", TEXT)
    assert [s.match for s in spans] == ["exact"]
