"""One CLI voice: help in claimflow's words for every subcommand and option (with its default),
--version, --json where output is scripted, arguments checked against what exists, and the same
exit status for the same kind of error (0 done, 1 not fine, 2 bad input)."""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path

import pytest

from claimflow.commands import cli, doctor, runlock

DEMO_CONFIG = str(Path(__file__).resolve().parent.parent / "config/demo.yaml")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = cli.main(list(argv))
    except SystemExit as exit_:  # argparse's own errors and --help / --version
        code = exit_.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version_names_claimflow_and_the_parts_that_decide_its_results(capsys):
    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.startswith("claimflow 0.1.0 (snakemake 9.27.1, yt-dlp ")


def test_run_and_refresh_help_speak_claimflow_and_point_to_snakemake_for_the_rest(capsys):
    code, out, _ = _run(capsys, "run", "--help")
    assert code == 0 and out.startswith("usage: claimflow run")
    assert "One live run per folder" in out and "--profile profiles/local" in out and "snakemake --help" in out
    assert "130 interrupted" in out and len(out.splitlines()) < 40  # not Snakemake's 2,000 lines
    code, out, _ = _run(capsys, "refresh", "--help")
    assert code == 0 and out.startswith("usage: claimflow refresh") and "lists every collection" in out


def test_every_option_of_every_subcommand_has_help_that_states_its_default():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        if name in ("run", "refresh"):
            continue  # Snakemake's arguments, as given (test above)
        for action in command._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            assert action.help, f"claimflow {name} {action.option_strings[0]} has no help"
            flag = action.nargs == 0  # --json, --measured: on or off
            assert flag or "default" in action.help, f"claimflow {name} {action.option_strings[0]}: no default said"


@pytest.mark.parametrize("command", ["doctor", "unavailable", "status", "search", "plan"])
def test_the_scripted_commands_take_json(command):
    sub = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert "--json" in sub.choices[command]._option_string_actions


def test_values_are_checked_against_what_exists_naming_the_valid_ones(capsys, tmp_path):
    code, _, err = _run(capsys, "search", "sleep", "--tier", "Z")
    assert code == 2 and "invalid choice: 'Z' (choose from 'A', 'B', 'C', 'D')" in err
    code, _, err = _run(capsys, "search", "sleep", "--type", "opinion", "--configfile", DEMO_CONFIG)
    assert code == 2 and "--type opinion: no such claim type; the types are factual causal" in err
    (tmp_path / "c.yaml").write_text(f"results: {tmp_path / 'results'}\n")
    code, out, err = _run(capsys, "unavailable", "--retry", "bogus_class", "--configfile", DEMO_CONFIG,
                          str(tmp_path / "c.yaml"))  # fmt: skip
    assert code == 2 and "--retry bogus_class: no such reason class; the classes are " in err
    assert "geo_blocked" in err and "or all" in err and "set aside" not in out
    code, _, err = _run(capsys, "search", "sleep", "--limit", "0")
    assert code == 2 and "0 is not at least 1" in err


def test_config_errors_exit_2_everywhere_naming_the_file_and_line(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: x\naccounts:\n  - name: a\n   cookies: y\n")
    for argv in (["status", "--configfile", str(bad)], ["run", "-j", "1", "--configfile", str(bad)]):
        code, _, err = _run(capsys, *argv)
        assert code == 2, argv
        assert f"config file '{bad}' is not valid YAML: line 4, column 4:" in err
    code, _, err = _run(capsys, "run", "-j", "1", "--configfile", str(tmp_path / "nonexistent.yaml"))
    assert code == 2 and "nonexistent.yaml' was not found; check the path given with --configfile" in err
    assert "Traceback" not in err


def test_an_endpoint_without_a_model_is_refused_before_any_request(capsys, tmp_path):
    (tmp_path / "o.yaml").write_text("llm: {provider: openai}\n")
    code, _, err = _run(capsys, "doctor", "--configfile", DEMO_CONFIG, str(tmp_path / "o.yaml"))
    assert code == 2 and "llm.provider is openai but llm.model is not set" in err and "gpt-4o-mini" in err


def test_a_run_without_a_job_count_says_how_to_give_one(capsys):
    code, _, err = _run(capsys, "run", "--configfile", DEMO_CONFIG)
    assert code == 2 and "-j N (e.g. -j 16), or --profile profiles/local" in err
    assert runlock.check_arguments(["-n", "--configfile", DEMO_CONFIG]) is None  # a dry run needs none
    assert runlock.check_arguments(["-j16"]) is None and runlock.check_arguments(["--profile", "p"]) is None


def test_doctor_names_why_an_endpoint_did_not_answer():
    import socket

    dns = doctor._connection_fix(socket.gaierror(-2, "Name or service not known"), "http://llm.exmaple.org:8000/v1")
    assert dns.startswith("the host name 'llm.exmaple.org' does not resolve")
    refused = doctor._connection_fix(ConnectionRefusedError(111, "Connection refused"), "http://127.0.0.1:9/v1")
    assert refused.startswith("start the server")


def test_search_json_and_exit_status(capsys, tmp_path):
    from claimflow.store import database as store

    database = tmp_path / "results/claimflow.sqlite"
    store.ensure(database)
    conn = sqlite3.connect(database)
    conn.execute("INSERT INTO videos (vid, title, source, status) VALUES ('v', 'Sleep', 'https://youtu.be/abc', 'ok')")
    conn.execute(
        "INSERT INTO claims (vid, claim_id, claim_text, claim_type, supported) VALUES "
        "('v', 'c1', 'Sleep is essential for memory', 'factual', 1)"
    )  # fmt: skip; claims_fts by trigger
    conn.commit()
    conn.close()
    (tmp_path / "c.yaml").write_text(f"results: {tmp_path / 'results'}\n")
    code, out, _ = _run(capsys, "search", "sleep", "--json", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml"))
    assert code == 0
    (hit,) = json.loads(out)
    assert hit["claim_text"] == "Sleep is essential for memory" and hit["link"] == "https://youtu.be/abc?t=0"
    code, out, _ = _run(capsys, "search", "nothing", "--json", "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml"))
    assert code == 1 and json.loads(out) == []  # found nothing: 1, like grep
    code, _, err = _run(capsys, "search", '"unclosed', "--configfile", DEMO_CONFIG, str(tmp_path / "c.yaml"))
    assert code == 2 and "not valid full-text syntax" in err
