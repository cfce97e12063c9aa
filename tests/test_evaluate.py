import pytest

from claimflow.knowledge.evaluate import find_duplicates, response_schema, tier_for

TIERS = {"A": 8.0, "B": 6.5, "C": 5.0}


@pytest.mark.parametrize(("score", "tier"), [(9.0, "A"), (8.0, "A"), (7.99, "B"), (6.5, "B"), (5.0, "C"), (4.9, "D")])
def test_tiers_follow_the_configured_thresholds(score, tier):
    assert tier_for(score, TIERS) == tier


def test_custom_thresholds():
    assert tier_for(7.0, {"A": 9.5, "B": 7.0, "C": 1.0}) == "B"


def test_near_duplicates_merge_into_the_first():
    claims = [
        {"claim_id": "c001", "claim_text": "Sleep is essential for memory."},
        {"claim_id": "c002", "claim_text": "Caffeine blocks adenosine."},
        {"claim_id": "c003", "claim_text": "sleep is essential for memory"},
    ]
    assert find_duplicates(claims, 92) == {"c003": "c001"}


def test_schema_asks_for_exactly_one_rating_per_claim():
    schema = response_schema(["c001", "c002"])["properties"]["evaluations"]
    assert schema["minItems"] == schema["maxItems"] == 2
    assert schema["items"]["properties"]["claim_id"]["enum"] == ["c001", "c002"]
