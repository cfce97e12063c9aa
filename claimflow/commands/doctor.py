"""`claimflow doctor`: check the environment before a five-day batch starts.

Each check runs the real thing in miniature: the configured LLM answers one short prompt (the
local model in its child process, so a native crash is reported, not suffered), the configured
Whisper model transcribes one second of speech, yt-dlp reports its version and JavaScript
runtime, and the results and state folders take a file. Each line is OK, WARN (works, but
something will bite) or FAIL, and every line that is not OK ends with the fix.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import socket
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimflow.commands.runlock import FREE_SPACE, no_space
from claimflow.core.config import WORKFLOW_DIR
from claimflow.core.logs import redact, register_secret
from claimflow.core.models import bundled_gguf_path
from claimflow.core.settings import STAGE_LLM, LLMIdentity, LLMRuntime, Settings
from claimflow.download.cookies import CookieFileError
from claimflow.download.cookies import check as check_cookie_file
from claimflow.llm import local as localllm
from claimflow.store import database as store
from claimflow.transcribe.whisper import load_model, resolve_device

OK, WARN, FAIL = "OK", "WARN", "FAIL"
DEMO_CLIP = WORKFLOW_DIR / "demo" / "forests.ogg"


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": redact(self.detail), "fix": redact(self.fix)}

    def line(self) -> str:
        text = f"{self.status:<5} {self.name:<11} {self.detail}"
        if self.fix and self.status != OK:
            text += f"\n{'':<18}fix: {self.fix}"
        return redact(text)


def run(config: dict[str, Any]) -> list[Check]:
    """Everything, in miniature: `claimflow doctor`."""
    return _run_checks(config, [check_folders, check_cookies, check_llm, check_transcribe, check_ytdlp,
                                check_catalogue])  # fmt: skip


def preflight(config: dict[str, Any], database: str | None = None, identity: str | None = None) -> list[Check]:
    """What the workflow checks before its first job (onstart): faults of the setup, not of
    a video, each cheap and certain. The full model and transcription checks stay in doctor.
    `database`: made (or migrated) here, with `identity` when the run's parse chose one."""
    checks = [check_folders, check_cookies, check_llm_reachable]
    if database is not None:
        checks.insert(1, functools.partial(check_database, database=database, identity=identity))
    return _run_checks(config, checks)


def _run_checks(config: dict[str, Any], checks: list[Callable[[dict[str, Any]], Check]]) -> list[Check]:
    results = []
    for check in checks:
        try:
            results.append(check(config))
        except Exception as exc:  # a check that breaks is a failed check, never a traceback
            name = getattr(check, "func", check).__name__.removeprefix("check_")
            results.append(Check(name, FAIL, f"{type(exc).__name__}: {exc}", "see the message above"))
    return results


# -- folders ---------------------------------------------------------------------------------
def check_folders(config: dict[str, Any]) -> Check:
    for key in ("results", "state"):
        folder = Path(config[key])
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-") as probe:
                probe.write(b"x" * 4096)
                probe.flush()
                os.fsync(probe.fileno())
        except OSError as exc:
            if full := no_space(folder if folder.exists() else folder.parent):
                return Check("folders", FAIL, f"{full}: the {key} folder cannot take a file", FREE_SPACE)
            return Check("folders", FAIL, f"{key} folder '{folder}' is not writable ({exc.strerror})",
                         f"make it writable or set `{key}:` to a folder you own")  # fmt: skip
    return Check("folders", OK, f"results '{config['results']}' and state '{config['state']}' are writable")


def check_database(config: dict[str, Any], database: str, identity: str | None) -> Check:
    """The results database exists at its schema version (made or migrated now)."""
    try:
        store.ensure(database, identity)
    except (sqlite3.OperationalError, OSError) as exc:
        full = no_space(Path(database).parent)
        if full:
            return Check("database", FAIL, f"{full}: {database} cannot be written", FREE_SPACE)
        return Check("database", FAIL, f"{database} cannot be opened for writing ({exc})",
                     "make the results folder writable (or point `results` elsewhere)")  # fmt: skip
    except RuntimeError as exc:  # a database from a later claimflow
        return Check("database", FAIL, str(exc).split(". ")[0], str(exc).split(". ", 1)[-1])
    return Check("database", OK, f"{database} is at schema version {store.SCHEMA_VERSION}")


# -- cookies ---------------------------------------------------------------------------------
def check_cookies(config: dict[str, Any]) -> Check:
    """Each account's cookie file is readable, in Netscape format and every entry parses (the
    problem named by file and line, never by value); one readable by others is a warning."""
    problems, loose, entries = [], [], 0
    for account in config["accounts"]:
        jar = account.get("cookies")
        if not jar:
            continue
        try:
            entries += check_cookie_file(jar, account["name"]).entries
        except CookieFileError as error:
            problems.append(str(error))
            continue
        if Path(jar).expanduser().stat().st_mode & (stat.S_IRGRP | stat.S_IROTH):
            loose.append(f"{account['name']}: {Path(jar).expanduser()}")
    if problems:
        return Check("cookies", FAIL, "; ".join(problems),
                     "export the account's cookies (Netscape format) to that path, or remove `cookies` to "
                     "download anonymously")  # fmt: skip
    if loose:
        return Check("cookies", WARN, f"readable by other users: {'; '.join(loose)}", "chmod 600 each of them")
    jars = sum(bool(a.get("cookies")) for a in config["accounts"])
    return Check("cookies", OK, f"{jars} cookie file(s) readable ({entries} entries), none by other users")


# -- the LLM ---------------------------------------------------------------------------------
def check_llm(config: dict[str, Any]) -> Check:
    """Each model the batch's LLM stages ask answers a request."""
    return _each_model(config, lambda identity, runtime: (_check_local if identity.provider == "local"
                                                          else _check_endpoint)(identity, runtime))  # fmt: skip


def _each_model(config: dict[str, Any], check: Callable[[LLMIdentity, LLMRuntime], Check]) -> Check:
    """`check` of each distinct model (provider, model, endpoint, key) the batch's LLM stages ask,
    as one check: with every stage on the llm section's model, its check as it is; with stages
    of their own, each model's line prefixed by its stages, the worst status, and the messages
    naming the stage's own keys (`evaluate.llm.model`)."""
    loaded = Settings.from_config(config)
    groups: dict[tuple[Any, ...], list[str]] = {}
    for stage in loaded.llm_stages():
        identity, runtime = loaded.stage_llm(stage)
        groups.setdefault((identity, runtime.base_url, runtime.api_key_env), []).append(stage)
    own = {stage for stage in loaded.llm_stages()
           if config[STAGE_LLM[stage][0]].get(STAGE_LLM[stage][1])}  # fmt: skip
    if len(groups) == 1 and not own:
        return check(loaded.llm, loaded.llm_runtime)
    results = []
    for stages in groups.values():
        identity, runtime = loaded.stage_llm(stages[0])
        found = check(identity, runtime)
        named = next((s for s in stages if s in own), None)
        if named is not None:  # the keys that set this model are the stage's own
            section = ".".join(STAGE_LLM[named])
            found = Check(found.name, found.status, re.sub(r"\bllm\.", f"{section}.", found.detail),
                          re.sub(r"\bllm\.", f"{section}.", found.fix))  # fmt: skip
        results.append((stages, found))
    worst = next(s for s in (FAIL, WARN, OK) if any(c.status == s for _, c in results))
    detail = "; ".join(f"{', '.join(stages)}: {c.detail}" for stages, c in results)
    fix = "; ".join(f"{', '.join(stages)}: {c.fix}" for stages, c in results if c.fix and c.status != OK)
    return Check("llm", worst, detail, fix)


def _local_model(identity: LLMIdentity) -> str | Check:
    """The local model's file, or the failed check that says why there is none."""
    try:
        path = bundled_gguf_path() if identity.model == "bundled" else str(Path(identity.model).expanduser())
    except FileNotFoundError as exc:
        return Check("llm", FAIL, str(exc), "run `make` again to reinstall the bundled model")
    if not Path(path).is_file():
        return Check("llm", FAIL, f"llm.model '{identity.model}' is not a file",
                     "set llm.model to a GGUF file or `bundled`")  # fmt: skip
    return path


# The threads a mine or evaluate job gives the local model (the rules' `threads:`).
LLM_JOB_THREADS = 2


def _check_local(identity: LLMIdentity, runtime_settings: LLMRuntime) -> Check:
    path = _local_model(identity)
    if isinstance(path, Check):
        return path
    threads = min(LLM_JOB_THREADS, os.cpu_count() or 1)
    runtime = localllm.LocalRuntime(path, n_ctx=512, threads=threads, timeout=runtime_settings.timeout)
    started = time.monotonic()
    try:
        answer = runtime.chat(messages=[{"role": "user", "content": "Say OK."}], max_tokens=8, temperature=0.0)
    except localllm.RuntimeCrashed as exc:
        return Check("llm", FAIL, str(exc).split(" Fix: ")[0], localllm.REBUILD_HINT)
    except localllm.RuntimeTooSlow as exc:
        return Check("llm", FAIL, str(exc).split(" Fix: ")[0], str(exc).split(" Fix: ", 1)[-1])
    except RuntimeError as exc:
        return Check("llm", FAIL, str(exc), "set llm.model to a readable GGUF file or `bundled`")
    finally:
        runtime.close()
    seconds = time.monotonic() - started
    info = runtime.info
    assert info is not None
    built = info.built_for
    speed = runtime.speed
    rate = ""
    if speed:
        rate = f", {speed.generate_tps:.1f} tokens/s generated, {speed.prompt_tps:.0f} read ({threads} threads)"
    detail = (f"local model {Path(path).name} answered in {seconds:.1f} s{rate} "
              f"(llama-cpp-python {info.version}, built for {' '.join(built) or 'no SIMD'}; "
              f"answer: {answer['choices'][0]['message']['content']!r:.40})")  # fmt: skip
    beyond = sorted(f for f in built if f.split("_")[0] in ("AVX512", "AMX") or f == "AVX_VNNI")
    if beyond:
        return Check("llm", WARN, f"{detail}; the build uses {' '.join(beyond)}, beyond the portable baseline",
                     "it runs here, but may crash on other CPUs (AMX: llama.cpp issue 20824); "
                     "`make rebuild-llm` builds the portable runtime")  # fmt: skip
    longest = speed.seconds(0, identity.max_tokens) if speed else 0.0
    if longest > runtime_settings.timeout:
        return Check("llm", WARN, f"{detail}; at that speed an answer of llm.max_tokens {identity.max_tokens} "
                     f"takes {longest:.0f} s, more than llm.timeout ({runtime_settings.timeout:g} s)",
                     "nothing fails for it (each request's bound follows the speed measured when its job starts), "
                     "but mining will be slow here: fewer LLM jobs at once, a smaller max_tokens, or an "
                     "OpenAI-compatible endpoint")  # fmt: skip
    return Check("llm", OK, detail)


def check_llm_reachable(config: dict[str, Any]) -> Check:
    """The cheap half of the LLM check: the local model's file is there, or the endpoint has
    the key it needs and answers its model list (with the configured retries, so a rate limit
    at the start of a batch is waited out, not reported)."""
    return _each_model(config, _check_reachable)


def _check_reachable(identity: LLMIdentity, runtime: LLMRuntime) -> Check:
    import openai  # the openai client is heavy: only for an endpoint

    if identity.provider == "local":
        path = _local_model(identity)
        return path if isinstance(path, Check) else Check("llm", OK, f"local model {Path(path).name} is in place")
    where = runtime.base_url or "api.openai.com"
    key = os.environ.get(runtime.api_key_env)
    if not key and not runtime.base_url:
        return _missing_key(runtime.api_key_env)
    register_secret(key)
    client = openai.OpenAI(base_url=runtime.base_url, api_key=key or "not-needed",
                           timeout=min(runtime.timeout, 30.0), max_retries=runtime.max_retries)  # fmt: skip
    try:
        listed = {m.id for m in client.models.list()}
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        return Check("llm", FAIL, f"endpoint {where} did not answer ({type(cause).__name__}: {cause})",
                     _connection_fix(cause, where))  # fmt: skip
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        return Check("llm", FAIL, f"endpoint {where} refused the key in ${runtime.api_key_env} ({exc.status_code})",
                     f"export a valid key as {runtime.api_key_env}")  # fmt: skip
    except openai.APIStatusError as exc:
        return Check("llm", WARN, f"endpoint {where} has no model list ({exc.status_code}); assuming it serves "
                     f"'{identity.model}'")  # fmt: skip
    if identity.model not in listed:
        return Check("llm", WARN, f"endpoint {where} does not list model '{identity.model}' (it lists "
                     f"{', '.join(sorted(listed)[:5]) or 'nothing'}); some servers answer any name",
                     "check llm.model if the first requests fail")  # fmt: skip
    return Check("llm", OK, f"endpoint {where} answers and lists '{identity.model}'")


def _connection_fix(cause: BaseException, where: str) -> str:
    """What to do about an endpoint that did not answer, by why: a name that does not resolve is
    a typo or a DNS problem, a refused connection a server that is not running."""
    text = str(cause).lower()
    chain = [cause, cause.__cause__, cause.__context__]
    if any(isinstance(c, socket.gaierror) for c in chain) or any(
        phrase in text for phrase in ("name or service not known", "nodename nor servname", "name resolution",
                                      "getaddrinfo failed", "no address associated")):  # fmt: skip
        host = where.split("//", 1)[-1].split("/", 1)[0].split(":")[0]
        return f"the host name {host!r} does not resolve: correct it in llm.base_url, or check this machine's DNS"
    if "timed out" in text or "timeout" in text:
        return "the server is slow or a firewall drops the connection: check llm.base_url and the network"
    return "start the server, or correct llm.base_url (host and port)"


def _missing_key(variable: str) -> Check:
    return Check("llm", FAIL, f"llm.provider is openai but ${variable} is not set",
                 f"export {variable}=<your key> (or name another variable in llm.api_key_env)")  # fmt: skip


def _check_endpoint(identity: LLMIdentity, runtime: LLMRuntime) -> Check:
    import openai  # the openai client is heavy: only for an endpoint

    base_url, model = runtime.base_url, identity.model
    where = base_url or "api.openai.com"
    key_env = runtime.api_key_env
    key = os.environ.get(key_env)
    if not key and not base_url:
        return _missing_key(key_env)
    register_secret(key)
    client = openai.OpenAI(base_url=base_url, api_key=key or "not-needed", timeout=15, max_retries=0)
    started = time.monotonic()
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=4)
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        return Check("llm", FAIL, f"endpoint {where} did not answer ({type(cause).__name__}: {cause})",
                     _connection_fix(cause, where))  # fmt: skip
    except openai.AuthenticationError as exc:
        return Check("llm", FAIL, f"endpoint {where} refused the key in ${key_env} ({exc.status_code})",
                     f"export a valid key as {key_env}")  # fmt: skip
    except openai.NotFoundError as exc:
        return Check("llm", FAIL, f"endpoint {where} does not know model '{model}' ({exc.status_code})",
                     "set llm.model to a model the endpoint serves")  # fmt: skip
    except openai.APIStatusError as exc:
        return Check("llm", FAIL, f"endpoint {where} answered {exc.status_code}: {str(exc)[:200]}",
                     "check the endpoint's own logs; a 429 means its rate limit is already spent")  # fmt: skip
    return Check("llm", OK, f"endpoint {where} answered with model '{model}' in {time.monotonic() - started:.1f} s")


# -- transcription ---------------------------------------------------------------------------
def check_transcribe(config: dict[str, Any]) -> Check:
    import numpy as np  # heavy: only where audio is measured
    from faster_whisper import decode_audio  # faster-whisper loads CTranslate2: only where a model runs

    loaded = Settings.from_config(config)
    name = loaded.transcribe.model
    runtime = dataclasses.replace(loaded.transcribe_runtime, batch_size=1)
    device, compute_type = resolve_device(runtime.device, runtime.compute_type)
    started = time.monotonic()
    try:
        model = load_model(name, runtime, threads=1)
    except Exception as exc:
        detail = f"Whisper model '{name}' did not load on {device}/{compute_type}"
        return Check("transcribe", FAIL, f"{detail}: {type(exc).__name__}: {exc}",
                     "check transcribe.model (offline only `tiny.en` is bundled), device, compute_type")  # fmt: skip
    # One second of speech from the demo; of silence where the demo is not shipped.
    audio = decode_audio(str(DEMO_CLIP))[:16000] if DEMO_CLIP.is_file() else np.zeros(16000, dtype=np.float32)
    segments, _info = model.transcribe(audio, beam_size=1, vad_filter=False)
    text = " ".join(s.text.strip() for s in segments)
    return Check("transcribe", OK, f"Whisper '{name}' on {device}/{compute_type} transcribed 1 s "
                 f"in {time.monotonic() - started:.1f} s: {text!r:.40}")  # fmt: skip


# -- yt-dlp ----------------------------------------------------------------------------------
def check_ytdlp(config: dict[str, Any]) -> Check:
    import yt_dlp  # yt-dlp is heavy (half a second): only where a request is made
    from yt_dlp.globals import supported_js_runtimes  # yt-dlp is heavy (half a second): only where a request is made

    found = []
    for runtime_cls in supported_js_runtimes.value.values():
        info = runtime_cls().info
        if info is not None and info.supported is not False:
            found.append(f"{info.name} {info.version}")
    try:
        import yt_dlp_ejs  # noqa: F401 - presence is the check

        ejs = "EJS scripts installed"
    except ImportError:
        ejs = "no EJS scripts"
    detail = f"yt-dlp {yt_dlp.version.__version__}; JavaScript runtime: {', '.join(found) or 'none'}; {ejs}"
    if not found or ejs.startswith("no"):
        return Check("yt-dlp", WARN, detail,
                     "YouTube needs a JavaScript runtime and yt-dlp's EJS scripts for full format support "
                     "(`pip install 'yt-dlp[default]'` and Deno); other sites and local files work as they are",
                     )  # fmt: skip
    return Check("yt-dlp", OK, detail)


# -- the catalogue's corrections -------------------------------------------------------------
def check_catalogue(config: dict[str, Any]) -> Check:
    """The user's corrections file, read as the catalogue reads it. A WARN, not a FAIL: the
    batch's results do not depend on it (the report and `claimflow people` say it too)."""
    from claimflow.knowledge import catalogue  # rapidfuzz and yaml: only for this check

    path = (config.get("catalogue") or {}).get("corrections")
    if not path:
        return Check("catalogue", OK, "no corrections file (catalogue.corrections)")
    try:
        fixes = catalogue.load_corrections(path)
    except ValueError as exc:
        return Check("catalogue", WARN, str(exc), "fix the file (the report and `claimflow people` name it too)")
    return Check("catalogue", OK, f"{path}: {len(fixes.merge)} merge(s), {len(fixes.split)} split(s)")
