"""LLM providers behind one interface, returning schema-valid JSON.

- `local`: a GGUF model run by llama-cpp-python in a child process (claimflow.llm.local; the
  bundled SmolLM2-135M by default), constrained by the JSON schema through llama.cpp's grammar.
- `openai`: the `openai` client against any OpenAI-compatible endpoint (`base_url`). OpenAI
  takes `{"type": "json_schema", ...}`; llama.cpp's server refuses that and takes
  `{"type": "json_object", "schema": ...}`. `response_format: auto` tries the first and
  falls back to the second once, remembering the choice for the rest of the process.

Every answer is validated against the schema; an invalid one gets one repair attempt, then
raises InvalidOutput so the caller can record the window as failed. Responses are cached on
disk by everything that determines them, so reruns spend no tokens on unchanged work.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
from filelock import FileLock

from claimflow.core import atomic, layout, settings
from claimflow.core.logs import register_secret
from claimflow.core.models import bundled_gguf_path
from claimflow.core.settings import LLMIdentity, LLMRuntime
from claimflow.llm import local as localllm
from claimflow.llm.budget import BudgetReached, Cost, Ledger, bound_of
from claimflow.llm.ratelimit import RateLimiter
from claimflow.llm.usage import Usage

log = logging.getLogger(__name__)


class LLMError(RuntimeError):
    pass


class InvalidOutput(LLMError):
    """The model's answer did not parse or did not follow the schema, even after repair."""


class EndpointError(RuntimeError):
    """The endpoint cannot serve this job: no key, a refused key, an unknown model, or no
    answer after every retry. Not an LLMError: it is never a failed window of an otherwise
    finished video, it fails the job with one line naming the endpoint and the fix, and the
    windows answered before it stay in the cache for the rerun."""


# The LLM stop: an endpoint that refused the key refuses every request after it, so the first
# job that meets it records the stop here and every later LLM job of the run fails before any
# request, naming the variable to fix (the workflow's onstart clears it: a new run tries again).
def llm_stop(state_dir: str | Path | None, key: str | None = None) -> str | None:
    """The stop's message when this run's LLM work is stopped (that of the endpoint and key
    `key`, when given), else None."""
    if state_dir is None:
        return None
    stop = atomic.read_json_or_empty(layout.State.of(state_dir).llm_stop)
    if key is not None and stop.get("key", key) != key:
        return None
    return stop.get("message")


def stop_llm(state_dir: str | Path | None, message: str, key: str | None = None) -> None:
    if state_dir is not None:
        atomic.write_json(layout.State.of(state_dir).llm_stop,
                          {"message": message, "at": round(time.time(), 3), "key": key})  # fmt: skip


def reset_llm_stop(state_dir: str | Path) -> None:
    Path(layout.State.of(state_dir).llm_stop).unlink(missing_ok=True)


@dataclass
class Client:
    """One configured provider plus the cache and a running usage count. `identity` decides the
    answers (and keys the cache); `runtime` only how they are fetched."""

    identity: LLMIdentity
    runtime: LLMRuntime
    threads: int = 1
    state_dir: Path | None = None
    usage: Usage = field(default_factory=Usage)
    section: str = "llm"  # where its model is set, for messages: `evaluate.llm` for a stage's own
    ledger: Ledger | None = None  # the batch's spend, shared: checked before each request (llm.budget)
    notify: Any = None  # called (title, message) once, by the request whose refusal stopped the asking

    @property
    def provider(self) -> str:
        return self.identity.provider

    @property
    def model(self) -> str:
        """The model as used: the bundled GGUF resolved to its file for the local provider."""
        if self.identity.provider == "local" and self.identity.model == "bundled":
            return bundled_gguf_path()
        return self.identity.model

    @property
    def cache_dir(self) -> Path | None:
        if self.state_dir is None or not self.runtime.cache:
            return None
        return Path(layout.State.of(self.state_dir).llm_cache)

    def provenance(self) -> dict[str, Any]:
        """What produced an output: the identity, and where and how it ran."""
        where = self.runtime.base_url or ("in-process" if self.provider == "local" else "api.openai.com")
        return {"provider": self.provider, "model": Path(self.model).name if self.provider == "local" else self.model,
                "temperature": self.identity.temperature, "max_tokens": self.identity.max_tokens,
                "endpoint": where, "threads": self.threads}  # fmt: skip

    def complete_json(self, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> dict[str, Any]:
        key = self._cache_key(messages, schema)
        cached = self._cache_get(key)
        if cached is not None:
            self.usage.cached += 1
            return cached
        content = self._raw(messages, schema, name)
        try:
            data = _parse_valid(content, schema)
        except InvalidOutput as first:
            log.warning("%s: invalid output (%s); asking once for a repair", name, first)
            repair = messages + [
                {"role": "assistant", "content": content[:4000]},
                {
                    "role": "user",
                    "content": f"That answer was invalid: {first}. Reply again with JSON that follows the schema.",
                },
            ]
            data = _parse_valid(self._raw(repair, schema, name), schema)
        self._cache_put(key, data)
        return data

    # -- providers -------------------------------------------------------------------
    def _raw(self, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> str:
        if self.ledger is None:
            return self._ask(messages, schema, name)
        model = Path(self.model).name if self.provider == "local" else self.model
        bound = bound_of(messages, schema, self.identity.max_tokens, self.usage.price)
        try:
            held = self.ledger.reserve(bound, model)
        except BudgetReached as reached:
            if reached.first and self.notify is not None:
                self.notify("claimflow: LLM budget reached", str(reached))
            raise
        prompt, completion = self.usage.prompt_tokens, self.usage.completion_tokens
        try:
            return self._ask(messages, schema, name)
        finally:  # what it cost in place of what it held (nothing, for a request that got no answer)
            spent = Cost.of(self.usage.prompt_tokens - prompt, self.usage.completion_tokens - completion,
                            self.usage.price)  # fmt: skip
            self.ledger.settle(held, spent, model)

    def _ask(self, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> str:
        if self.provider == "local":
            return self._local(messages, schema)
        import openai  # the openai client is heavy: only for an endpoint

        where = self.runtime.base_url or "api.openai.com"
        if llm_stop(self.state_dir, self._key_of()):  # an earlier job met a refused key: no request, a short line
            raise EndpointError("this run's LLM work is stopped: the endpoint refused the key earlier in the run "
                                "(the run's last lines say what to fix)")  # fmt: skip
        try:
            return self._openai(messages, schema, name)
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            key = self.runtime.api_key_env
            message = (f"LLM work stopped: endpoint {where} refused the key in ${key} (HTTP {exc.status_code}), so "
                       f"no further LLM request is sent this run. Fix: export a valid key as {key}, then run the "
                       "same command again; finished work is kept")  # fmt: skip
            stop_llm(self.state_dir, message, self._key_of())
            raise EndpointError(message) from None
        except openai.NotFoundError as exc:
            raise EndpointError(f"endpoint {where} does not know model '{self.model}' (HTTP {exc.status_code}). "
                                f"Fix: set {self.section}.model to a model it serves, then run the same command "
                                "again",
                                ) from None  # fmt: skip
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            last = getattr(exc, "status_code", None) or type(exc).__name__
            raise EndpointError(f"endpoint {where} failed after {self.runtime.max_retries} retries (last: {last}). "
                                "Fix: check the server (or wait out its rate limit); finished videos are kept, and "
                                "the same command again picks this one up without paying for its answered "
                                "windows") from None  # fmt: skip

    def _local(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        # The model runs in a child process: a native crash becomes RuntimeCrashed, which
        # names the runtime, the signal and the fix instead of killing the job silently.
        llama = localllm.runtime(self.model, self.runtime.n_ctx, self.threads, self.runtime.timeout)
        result = llama.chat(
            messages=messages,
            response_format={"type": "json_object", "schema": schema},
            temperature=self.identity.temperature,
            max_tokens=self.identity.max_tokens,
            repeat_penalty=self.identity.repeat_penalty,
        )
        usage = result.get("usage") or {}
        self.usage.add(usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0))
        return result["choices"][0]["message"]["content"] or ""

    def _openai(self, messages: list[dict[str, str]], schema: dict[str, Any], name: str) -> str:
        rt = self.runtime
        client = _openai_client(rt.base_url, rt.api_key_env, rt.timeout, rt.max_retries, self._limiter())
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.identity.temperature,
            "max_tokens": self.identity.max_tokens,
        }
        mode = rt.response_format
        if mode == "auto":
            mode = self._known_format()
        if mode == "auto":
            response = self._probe_format(client, kwargs, schema, name)
        else:
            response = client.chat.completions.create(response_format=_response_format(mode, schema, name), **kwargs)
        usage = response.usage
        self.usage.add(getattr(usage, "prompt_tokens", 0) or 0, getattr(usage, "completion_tokens", 0) or 0)
        return response.choices[0].message.content or ""

    def _probe_format(self, client: Any, kwargs: dict[str, Any], schema: dict[str, Any], name: str) -> Any:
        """The first request to an endpoint whose response format is not known yet: json_schema
        (OpenAI and vLLM take it; llama.cpp's server refuses it with a 500 that names it). The
        probe is retried like any request (429 with Retry-After, 5xx, timeouts, connection errors,
        with back-off and jitter, each attempt counted by the shared rate limit); only a clear
        refusal falls back to json_object. Several jobs starting together agree on one format: the
        probe runs under a lock, and a job that waited for it uses the answer it left."""
        import openai  # the openai client is heavy: only for an endpoint

        path = self._formats_file()
        with FileLock(str(path) + ".lock") if path else contextlib.nullcontext():
            known = self._known_format(fresh=True)
            if known != "auto":
                return client.chat.completions.create(response_format=_response_format(known, schema, name), **kwargs)
            once = client.with_options(max_retries=0)
            for attempt in range(self.runtime.max_retries + 1):
                try:
                    response = once.chat.completions.create(
                        response_format=_response_format("json_schema", schema, name), **kwargs
                    )
                except (openai.BadRequestError, openai.InternalServerError, openai.UnprocessableEntityError) as exc:
                    if "json_schema" in str(exc) or "response_format" in str(exc):
                        log.info("endpoint refused response_format json_schema; using json_object with the schema")
                        self._remember_format("json_object")
                        return client.chat.completions.create(
                            response_format=_response_format("json_object", schema, name), **kwargs
                        )
                    if not isinstance(exc, openai.InternalServerError) or attempt == self.runtime.max_retries:
                        raise
                    wait = _backoff(attempt, exc)
                except (openai.RateLimitError, openai.APIConnectionError) as exc:
                    if attempt == self.runtime.max_retries:
                        raise
                    wait = _backoff(attempt, exc)
                else:
                    self._remember_format("json_schema")
                    return response
                log.info("format probe to the endpoint failed (attempt %d): retrying in %.1fs", attempt + 1, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _limiter(self) -> RateLimiter | None:
        if self.state_dir is None:
            return None
        return _rate_limiter(layout.State.of(self.state_dir).llm_rate_of(self.runtime.base_url),
                             self.runtime.requests_per_minute)  # fmt: skip

    def _formats_file(self) -> Path | None:
        return Path(layout.State.of(self.state_dir).llm_endpoints) if self.state_dir else None

    def _known_format(self, fresh: bool = False) -> str:
        """What the endpoint takes: remembered by this process, else by any (the file)."""
        if not fresh and self._endpoint() in _FORMAT_CHOICE:
            return _FORMAT_CHOICE[self._endpoint()]
        path = self._formats_file()
        if path and path.is_file():
            return atomic.read_json(path).get(self._endpoint(), "auto")
        return "auto"

    def _remember_format(self, mode: str) -> None:
        _FORMAT_CHOICE[self._endpoint()] = mode
        path = self._formats_file()
        if path:
            known = atomic.read_json(path) if path.is_file() else {}
            atomic.write_json(path, known | {self._endpoint(): mode})

    def _endpoint(self) -> str:
        return f"{self.runtime.base_url}|{self.model}"

    def _key_of(self) -> str:
        """The endpoint and the key's variable: what a refused key stops (another stage's own
        endpoint, with its own key, goes on)."""
        return f"{self.runtime.base_url}|{self.runtime.api_key_env}"

    # -- cache -----------------------------------------------------------------------
    def _cache_key(self, messages: list[dict[str, str]], schema: dict[str, Any]) -> str:
        # Exactly what decides the answer: the identity (the result settings of mine and
        # evaluate) and the input. Not the endpoint: the same model behind another URL (a
        # batch moved to another server) answers the same, and its answers are reused.
        material = {
            "provider": self.provider,
            "model": Path(self.model).name if self.provider == "local" else self.model,
            "temperature": self.identity.temperature,
            "max_tokens": self.identity.max_tokens,
            "messages": messages,
            "schema": schema,
        }
        if self.provider == "local":
            material["repeat_penalty"] = self.identity.repeat_penalty
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def _cache_get(self, key: str) -> dict[str, Any] | None:
        if self.cache_dir is None:
            return None
        path = self.cache_dir / key[:2] / f"{key}.json"
        return atomic.read_json(path) if path.is_file() else None

    def _cache_put(self, key: str, data: dict[str, Any]) -> None:
        if self.cache_dir is not None:
            atomic.write_json(self.cache_dir / key[:2] / f"{key}.json", data)


_FORMAT_CHOICE: dict[str, str] = {}


def _backoff(attempt: int, error: Exception) -> float:
    """Seconds before the next attempt: the server's Retry-After (capped at a minute), else
    exponential back-off with jitter, as the openai client does for its own retries."""
    response = getattr(error, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        if header is not None:
            return min(60.0, max(0.0, float(header)))
    except ValueError:
        pass
    return min(8.0, 0.5 * 2**attempt) * random.uniform(0.75, 1.0)


def _response_format(mode: str, schema: dict[str, Any], name: str) -> dict[str, Any]:
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}


def _parse_valid(content: str, schema: dict[str, Any]) -> dict[str, Any]:
    try:
        # strict=False: small models write raw newlines and tabs inside strings, which
        # llama.cpp's grammar lets through; the meaning is intact, so take them.
        data = json.loads(content, strict=False)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(f"not JSON ({exc.msg}, char {exc.pos})") from None
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        raise InvalidOutput(f"schema violation at {where}: {exc.message[:200]}") from None
    return data


@functools.cache
def _rate_limiter(path: str, per_minute: float) -> RateLimiter:
    return RateLimiter(path, per_minute)


@functools.cache
def _openai_client(
    base_url: str | None, api_key_env: str, timeout: float, max_retries: int, limiter: RateLimiter | None
):  # noqa: ANN202 - fmt: skip
    import openai  # the openai client is heavy: only for an endpoint

    api_key = os.environ.get(api_key_env)
    if not api_key:
        if not base_url:
            raise EndpointError(
                f"llm.provider is openai but the environment variable {api_key_env} is not set. "
                f"Export your API key as {api_key_env} (or name another variable in llm.api_key_env)."
            )
        api_key = "not-needed"  # local OpenAI-compatible servers usually take any key
    register_secret(api_key)
    # The client's own retries honour Retry-After and back off exponentially with jitter; the
    # request hook puts every HTTP request, retries included, through the shared rate limit.
    hooks = {"request": [lambda request: limiter.acquire()]} if limiter else {}
    http_client = openai.DefaultHttpxClient(event_hooks=hooks, timeout=timeout)
    return openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries,
                         http_client=http_client)  # fmt: skip


def concurrency_slots(loaded: settings.Settings, threads_per_job: int = 2) -> int:
    """How many LLM jobs may run at once. A remote endpoint takes `llm.max_concurrency`; a local
    model is CPU-bound, and oversubscribed llama.cpp threads slow every job down, so a batch
    where any stage runs the local model also stays within the machine's cores (the slots are
    one pool: Snakemake's resource `llm`)."""
    slots = loaded.llm_runtime.max_concurrency
    if any(loaded.stage_llm(stage)[0].provider == "local" for stage in loaded.llm_stages()):
        slots = min(slots, max(1, (os.cpu_count() or 1) // max(1, threads_per_job)))
    return slots


def client(identity: LLMIdentity, runtime: LLMRuntime, threads: int = 1, state_dir: str | Path | None = None,
           section: str = "llm") -> Client:  # fmt: skip
    """A client; `state_dir` holds the response cache, the shared rate-limit slot file and what
    each endpoint accepts as response_format; `section` is where its model is set."""
    made = Client(identity, runtime, threads, Path(state_dir) if state_dir else None, section=section)
    if identity.provider == "local":
        made.usage.price = {"prompt": 0.0, "completion": 0.0}  # runs here: no bill
    else:
        made.usage.price = runtime.prices.get(identity.model)
    return made


def from_config(llm: dict[str, Any], threads: int = 1, state_dir: str | Path | None = None) -> Client:
    """A client for an `llm:` config section, validated and defaulted by the schema like the
    workflow's own (for tools and tests that run outside it)."""
    loaded = settings.load({"llm": llm})
    return client(loaded.llm, loaded.llm_runtime, threads, state_dir)
