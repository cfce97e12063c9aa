import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from tests.conftest import DEMO_CONFIG, REPO, run_workflow

SCHEMA = str(REPO / "config/schema.yaml")


def _defaults() -> dict:
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_shipped_configs_validate_and_defaults_fill_in():
    for name in ("config.yaml", "demo.yaml"):
        config = copy.deepcopy(_defaults())
        config.update(yaml.safe_load((REPO / "config" / name).read_text()))
        validate(config, SCHEMA, set_default=True)
        assert config["mine"]["overlap_tokens"] == 100
        assert config["pacing"]["adaptive"]["max_failures"] == 3
        assert config["evaluate"]["tiers"] == {"A": 8.0, "B": 6.5, "C": 5.0}


def test_a_typo_fails_naming_the_key():
    config = _defaults()
    config["pacing"] = {"dealy": [1, 2]}
    with pytest.raises(WorkflowError, match="dealy"):
        validate(config, SCHEMA, set_default=True)


def test_bad_account_name_is_rejected():
    config = _defaults()
    config["accounts"] = [{"name": "bad name!"}]
    with pytest.raises(WorkflowError, match="bad name!"):
        validate(config, SCHEMA, set_default=True)


@pytest.mark.integration
def test_workflow_refuses_to_start_on_a_missing_sources_file(tmp_path: Path):
    run = run_workflow(
        tmp_path, "-n", "--config", "sources=nowhere.txt", check=False, timeout=120, profile=None, jobs=1, configs=()
    )
    assert run.returncode != 0
    assert "sources file 'nowhere.txt' was not found" in run.stdout + run.stderr


@pytest.mark.parametrize(
    ("override", "said"),
    [
        ({"pacing": {"dealy": [1, 2]}}, "pacing.dealy is not a setting claimflow knows (did you mean pacing.delay?)"),
        ({"pacing": {"floor": "abc"}}, "config key pacing.floor is 'abc': must be a number (no two starts"),
        ({"transcribe": {"vad": "yes"}}, "config key transcribe.vad is 'yes': must be true or false"),
        ({"pacing": {"delay": [5, -1]}}, "config key pacing.delay[1] is -1: must be at least 0"),
        ({"accounts": [{"name": "bad name!"}]}, "config key accounts[0].name is 'bad name!': must match"),
        ({"transcribe": {"device": "gpu"}}, "config key transcribe.device is 'gpu': must be one of auto, cpu, cuda"),
        ({"accounts": [{"cookies": "x"}]}, "config key accounts[0] lacks 'name'"),
    ],
)  # fmt: skip
def test_a_bad_config_is_one_paragraph_naming_key_value_rule_and_fix(override, said):
    from claimflow.core import config

    with pytest.raises(config.ConfigError) as raised:
        config.load(overrides=override)
    message = str(raised.value)
    assert said in message and "--configfile" in message
    assert "Failed validating" not in message and len(message) < 600  # not the schema's subtree


@pytest.mark.integration
def test_the_workflow_says_the_same_paragraph_before_any_job(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("pacing: {floor: abc}\n")
    run = run_workflow(
        tmp_path, "-n", check=False, timeout=120, profile=None, jobs=1, configs=(DEMO_CONFIG, tmp_path / "bad.yaml")
    )
    assert run.returncode != 0
    assert "claimflow: config key pacing.floor is 'abc': must be a number" in run.stdout + run.stderr
    assert "Failed validating" not in run.stdout + run.stderr
