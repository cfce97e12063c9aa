"""The settings layer: one source of defaults (the schema), every setting described and
classified, docs/configuration.md's table generated from the schema, and configs that cannot work
refused at start with the key's name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from claimflow.commands import configdoc
from claimflow.core import layout, settings
from claimflow.core.config import SCHEMA
from claimflow.core.config import load as load_config
from tests.conftest import REPO, run_workflow


def _properties(node: dict, path: str = "") -> list[tuple[str, dict]]:
    found = []
    for name, spec in node.get("properties", {}).items():
        found.append((f"{path}{name}", spec))
        found += _properties(spec, f"{path}{name}.")
        found += _properties(spec.get("items", {}), f"{path}{name}[].")
        extra = spec.get("additionalProperties")
        if isinstance(extra, dict):
            found += _properties(extra, f"{path}{name}.*.")
    return found


def test_every_schema_property_has_a_description():
    schema = yaml.safe_load(SCHEMA.read_text())
    missing = [key for key, spec in _properties(schema) if not spec.get("description")]
    assert not missing, f"describe these in config/schema.yaml: {missing}"


def test_the_configuration_document_is_the_schema():
    document = configdoc.DOCUMENT.read_text()
    expected = configdoc.replace_in(document, configdoc.table())
    assert document == expected, "run `python -m claimflow.commands.configdoc --write docs/configuration.md`"


def test_the_shipped_config_sets_no_default_of_its_own():
    # Defaults live in the schema only: config/config.yaml names the batch and the accounts.
    assert set(yaml.safe_load((REPO / "config/config.yaml").read_text())) == {"sources", "accounts"}


def test_result_settings_survive_the_trip_through_a_snakemake_param():
    loaded = settings.load({"transcribe": {"beam_size": 3}, "mine": {"limits": {"claims": 2}}})
    for kind, value in ((settings.TranscribeResult, loaded.transcribe), (settings.MineResult, loaded.mine),
                        (settings.EvaluateResult, loaded.evaluate)):  # fmt: skip
        assert settings.from_param(kind, settings.as_param(value)) == value


def test_each_setting_is_classified_once_and_runtime_settings_stay_out_of_the_params():
    base = settings.load()
    runtime_changes = {
        "transcribe": {"device": "cuda", "compute_type": "float16", "batch_size": 8},
        "llm": {"base_url": "http://x/v1", "timeout": 5, "requests_per_minute": 1, "cache": False},
    }
    moved = settings.load(runtime_changes)
    for stage in ("transcribe", "mine", "evaluate"):
        assert settings.as_param(getattr(moved, stage)) == settings.as_param(getattr(base, stage)), stage
    assert settings.as_param(settings.load({"llm": {"temperature": 0.5}}).mine) != settings.as_param(base.mine)


def test_a_missing_setting_fails_loudly_instead_of_meeting_a_second_default():
    with pytest.raises(KeyError, match="TranscribeResult: setting 'language' is missing"):
        settings.build(settings.TranscribeResult, {"model": "tiny.en"})


def _dry_run(tmp_path: Path, pacing: dict) -> subprocess.CompletedProcess:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"sources": str(REPO / "demo/sources.txt"), "pacing": pacing}))
    run = run_workflow(tmp_path, "-n", check=False, timeout=300, profile=None, jobs=1, configs=(tmp_path / "c.yaml",))
    run.output = run.stdout + run.stderr  # Snakemake logs to both
    return run


@pytest.mark.integration
def test_a_reversed_range_fails_at_start_naming_the_key(tmp_path):
    run = _dry_run(tmp_path, {"delay": [300, 180]})
    assert run.returncode != 0
    assert "pacing.delay is [300, 180]: the first number must not exceed the second; write [180, 300]" in run.output
    assert "Traceback" not in run.output and not (tmp_path / "results").exists()


@pytest.mark.integration
def test_a_negative_floor_fails_at_start_naming_the_key(tmp_path):
    run = _dry_run(tmp_path, {"floor": -1})
    assert run.returncode != 0
    assert "config key pacing.floor is -1: must be at least 0" in run.output


@pytest.mark.integration
def test_a_range_below_the_floor_warns_what_will_happen(tmp_path):
    run = _dry_run(tmp_path, {"delay": [1.0, 1.5], "warmup": {"videos": 0}})  # default floor: 30 s
    assert run.returncode == 0, run.output
    assert "delay [1, 1.5] starts below the floor 30 s, so every gap will be 30 s" in run.output


@pytest.mark.integration
def test_a_yt_dlp_option_outside_the_passthrough_set_fails_at_start_naming_it(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"sources": str(REPO / "demo/sources.txt"),
                                                     "download": {"ytdlp": {"outtmpl": "/tmp/%(id)s"}}}))  # fmt: skip
    run = run_workflow(tmp_path, "-n", check=False, timeout=300, profile=None, jobs=1, configs=(tmp_path / "c.yaml",))
    assert run.returncode != 0
    said = run.stdout + run.stderr
    assert "config key download.ytdlp.outtmpl is not a setting claimflow knows" in said
    assert "extractor_args" in said  # the options that may pass through are listed


# -- per-stage models --------------------------------------------------------------------------
def test_with_no_stage_model_every_llm_stage_keeps_the_llm_sections_identity_byte_for_byte():
    # What a batch made before per-stage models holds in its params: the llm section's identity.
    loaded = settings.load({"summarize": {"enabled": True}})
    identity = settings.as_param(loaded.llm)
    for stage in ("mine", "evaluate", "judge", "summarize"):
        assert settings.as_param(getattr(loaded, stage))["llm"] == identity, stage
        assert loaded.llm_runtimes[stage] == loaded.llm_runtime, stage


def test_a_stage_model_is_a_result_of_that_stage_only_and_its_endpoint_reruns_nothing():
    base = settings.load()
    strong = settings.load({"llm": {"provider": "openai", "model": "cheap", "base_url": "http://a/v1"},
                            "evaluate": {"llm": {"model": "strong", "base_url": "http://b/v1",
                                                 "api_key_env": "STRONG_KEY", "requests_per_minute": 10}}})  # fmt: skip
    assert strong.mine.llm.model == "cheap" and strong.evaluate.llm.model == "strong"
    assert strong.judge.llm.model == "cheap" and strong.summarize.llm.model == "cheap"
    assert strong.evaluate.llm.provider == "openai"  # the keys it leaves out are the llm section's
    assert strong.llm_runtimes["evaluate"].base_url == "http://b/v1"
    assert strong.llm_runtimes["evaluate"].api_key_env == "STRONG_KEY"
    assert strong.llm_runtimes["evaluate"].requests_per_minute == 10
    assert strong.llm_runtimes["mine"].base_url == "http://a/v1"
    assert strong.llm_runtimes["evaluate"].timeout == base.llm_runtime.timeout
    # The endpoint of a stage's own model is runtime: moving it changes no param.
    moved = settings.load({"llm": {"provider": "openai", "model": "cheap", "base_url": "http://a/v1"},
                           "evaluate": {"llm": {"model": "strong", "base_url": "http://c/v1"}}})  # fmt: skip
    for stage in ("mine", "evaluate", "judge", "summarize"):
        assert settings.as_param(getattr(moved, stage)) == settings.as_param(getattr(strong, stage)), stage
    judged = settings.load({"link": {"judge_llm": {"temperature": 0.4}}})
    assert judged.judge.llm.temperature == 0.4 and judged.evaluate.llm.temperature == base.llm.temperature
    assert settings.as_param(judged.mine) == settings.as_param(base.mine)


def test_the_configuration_table_says_a_stage_model_reruns_its_stage_and_its_endpoint_nothing():
    assert configdoc.reruns("evaluate.llm.model").startswith("evaluate, store")
    assert "mine" not in configdoc.reruns("evaluate.llm.model")
    assert configdoc.reruns("link.judge_llm.model") == "judge"
    assert configdoc.reruns("summarize.llm.model") == "summarize where summarize.enabled"
    assert configdoc.reruns("mine.llm.base_url") == "nothing"
    assert configdoc.reruns("evaluate.llm.requests_per_minute") == "nothing"


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (
            {"evaluate": {"llm": {"provider": "openai"}}},
            "evaluate.llm.provider is openai but evaluate.llm.model is not set",
        ),
        (
            {"llm": {"provider": "openai", "model": "gpt-4o-mini"}, "mine": {"llm": {"provider": "local"}}},
            "mine.llm.provider is local but mine.llm.model is not set",
        ),
    ],
    ids=["endpoint-without-model", "local-without-model"],
)
def test_a_stage_that_changes_provider_without_a_model_is_refused_naming_its_key(overrides, said):
    with pytest.raises(settings.SettingsError, match=said):
        settings.check(load_config(overrides=overrides))


def test_each_endpoint_has_its_own_rate_file_and_the_default_keeps_its_name(tmp_path):
    state = layout.State.of(tmp_path)
    assert state.llm_rate_of(None) == state.llm_rate
    assert state.llm_rate_of("http://a/v1") == state.llm_rate_of("http://a/v1") != state.llm_rate_of("http://b/v1")
    assert "http" not in state.llm_rate_of("http://a/v1")  # a URL never becomes a path
