"""Claim embeddings: what links a claim to the claims that say the same thing in other videos.

The bundled model is wordllama's `l2_supercat` (a static 256-dimension embedding whose weights
ship inside its wheel: no network, no GPU, 10,000 sentences in about half a second on one core).
Vectors are unit length and stored quantized to int8 (`quantize`): a quarter of float32's size,
and similarities computed from them are exact integers whatever the order of the arithmetic
(see `similarity`), so linking a video at a time and rebuilding the whole batch agree to the
last edge.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from claimflow.core import atomic

DIM = 256
# int8 units: a unit vector's components scaled to +-127. A dot product of two quantized vectors
# is an integer of at most 256 x 127^2 = 4,129,024 < 2^24 in magnitude, so it is exact in float32
# (BLAS may add in any order; every partial sum is an integer float32 holds exactly).
SCALE = 127


@dataclass(frozen=True)
class Model:
    """An embedding model's identity: a result setting (changing it relinks, nothing else)."""

    provider: str  # wordllama | openai
    name: str  # l2_supercat, or the endpoint's model
    dim: int = DIM  # the vectors' dimensions (wordllama: its 256-dimension weights truncated to these)

    @property
    def identity(self) -> str:
        return f"{self.provider}:{self.name}:{self.dim}"


WORDLLAMA = Model("wordllama", "l2_supercat", DIM)
# The same weights truncated to their first 128 dimensions (wordllama is trained Matryoshka-style,
# so a prefix is an embedding of its own): half the index and half the arithmetic per link, for
# STS-B test Spearman 0.751 against 0.757 (benchmarks/similarity.py).
WORDLLAMA_128 = Model("wordllama", "l2_supercat", 128)


class Embedder(Protocol):
    model: Model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


class WordLlamaEmbedder:
    """The bundled model, loaded from the wheel's own files (never downloaded)."""

    def __init__(self, model: Model = WORDLLAMA):
        # wordllama loads its weights and tokenizer (0.7 s): only in the jobs that embed.
        import wordllama

        # The wheel carries the tokenizer under the package folder; wordllama's own default cache
        # (~/.cache) would look for a download.
        self.model = model
        folder = Path(wordllama.__file__).parent
        self._model = wordllama.WordLlama.load(
            config=model.name, dim=DIM, trunc_dim=model.dim if model.dim < DIM else None, cache_dir=folder,
            disable_download=True,
        )  # fmt: skip

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.dim), dtype=np.float32)
        vectors = np.asarray(self._model.embed(list(texts), norm=True), dtype=np.float32)
        return vectors.reshape(len(texts), self.model.dim)


ENDPOINT = "endpoint:"  # link.embedding "endpoint:<model>": an OpenAI-compatible /v1/embeddings


class EmbeddingEndpointError(RuntimeError):
    """The embeddings endpoint failed or answered what is not one vector per text; the message
    names the endpoint and the fix, never the key."""


@dataclass(frozen=True)
class Endpoint:
    """Where `endpoint:<model>` embeds (runtime: a change reruns nothing): link.endpoint, each
    unset key taken from the llm section, so the LLM's endpoint serves both."""

    base_url: str | None
    api_key_env: str
    batch_size: int = 256
    timeout: float = 60.0
    max_retries: int = 5

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Endpoint:
        own, llm = (config.get("link") or {}).get("endpoint") or {}, config.get("llm") or {}
        return cls(own.get("base_url") or llm.get("base_url"), own.get("api_key_env") or llm.get("api_key_env")
                   or "OPENAI_API_KEY", int(own.get("batch_size") or 256), float(own.get("timeout") or 60.0),
                   int(own.get("max_retries", 5)))  # fmt: skip


class EndpointEmbedder:
    """An OpenAI-compatible `/v1/embeddings`. Each request's vectors are cached by content (the
    model and the texts: a rerun or a rebuild asks nothing again), under the state folder; the
    model's dimensions are known from its first answer, and its identity with them."""

    def __init__(self, name: str, endpoint: Endpoint, cache_dir: str | Path | None = None):
        self.name, self.endpoint = name, endpoint
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.requests = 0
        self.cached = 0
        self._dim: int | None = None
        self._client: Any = None

    @property
    def model(self) -> Model:
        return Model("openai", self.name, self._dim or 0)

    def _openai(self) -> Any:
        if self._client is None:
            import openai  # heavy: only for an endpoint

            from claimflow.core.logs import register_secret

            key = os.environ.get(self.endpoint.api_key_env)
            if not key and not self.endpoint.base_url:
                raise EmbeddingEndpointError(f"link.embedding {ENDPOINT}{self.name} with no base_url means OpenAI, "
                                             f"and the environment variable {self.endpoint.api_key_env} is not set: "
                                             "export your key there, or set link.endpoint.base_url")  # fmt: skip
            key = key or "not-needed"  # a local server takes any key
            register_secret(key)
            self._client = openai.OpenAI(base_url=self.endpoint.base_url, api_key=key, timeout=self.endpoint.timeout,
                                         max_retries=self.endpoint.max_retries)  # fmt: skip
        return self._client

    def _ask(self, texts: list[str]) -> np.ndarray:
        where = self.endpoint.base_url or "https://api.openai.com/v1"
        try:
            answer = self._openai().embeddings.create(model=self.name, input=texts, encoding_format="float")
        except EmbeddingEndpointError:
            raise
        except Exception as exc:  # openai's errors: connection, status, timeout
            status = getattr(exc, "status_code", None)
            raise EmbeddingEndpointError(
                f"embeddings endpoint {where} failed for model {self.name!r} ({type(exc).__name__}"
                f"{f', HTTP {status}' if status else ''}): check link.endpoint (or llm.base_url) and the server; "
                "a plain rerun embeds again") from None  # fmt: skip
        self.requests += 1
        rows = [item.embedding for item in sorted(answer.data, key=lambda item: item.index)]
        if len(rows) != len(texts) or any(not isinstance(r, list) or not r or isinstance(r[0], list) for r in rows):
            raise EmbeddingEndpointError(
                f"embeddings endpoint {where} did not answer one vector per text for model {self.name!r} (a server "
                "without pooling answers a vector per token: llama.cpp's needs --pooling mean)")  # fmt: skip
        return np.asarray(rows, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        key = hashlib.sha256(json.dumps([self.name, texts], ensure_ascii=False).encode()).hexdigest()
        path = self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir else None
        if path is not None and path.is_file():
            doc = atomic.read_json(path)
            vectors = np.frombuffer(base64.b64decode(doc["vectors"]), dtype=np.float32).reshape(len(texts), -1)
            self.cached += 1
        else:
            step = max(1, self.endpoint.batch_size)
            vectors = np.concatenate([self._ask(texts[i : i + step]) for i in range(0, len(texts), step)])
            if path is not None:
                atomic.write_json(path, {"model": self.name, "dim": int(vectors.shape[1]),
                                         "vectors": base64.b64encode(vectors.tobytes()).decode()})  # fmt: skip
        if self._dim is not None and vectors.shape[1] != self._dim:
            raise EmbeddingEndpointError(f"model {self.name!r} answered {vectors.shape[1]} dimensions after "
                                         f"{self._dim}: one model must keep one size")  # fmt: skip
        self._dim = int(vectors.shape[1])
        return vectors


def quantize(vectors: np.ndarray) -> np.ndarray:
    """Unit float vectors to int8 (x127, rounded). Quantization moves a cosine by about 0.002
    (measured on STS-B: benchmarks/similarity.py), well inside the threshold's own margin."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float32), where=norms > 0)
    return np.clip(np.rint(unit * SCALE), -SCALE, SCALE).astype(np.int8)


def threshold_units(cosine: float) -> int:
    """A cosine threshold in the integer units `similarity` returns (x127^2, rounded up)."""
    return int(np.ceil(cosine * SCALE * SCALE - 1e-9))


SMALL_PRODUCT = 1 << 14  # cells: 128 x 128 claims


def similarity(rows: np.ndarray, queries: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """The integer dot products of int8 `rows` (n x d) with int8 `queries` (m x d): an n x m
    int32 array, exact (float32 matrix products of small integers), in chunks of rows so a
    memory-mapped index is read a slice at a time. A small product (one video's claims among
    themselves) and one query's are made in integers: a BLAS call's threads cost more than a
    small product's arithmetic, and one query's float copy of the index more than its own."""
    if queries.shape[0] == 1:  # a search: the int8 rows summed in int32, never copied to float (5 x faster)
        return np.einsum("ij,j->i", rows, queries[0].astype(np.int32), dtype=np.int32)[:, None]
    if rows.shape[0] * queries.shape[0] <= SMALL_PRODUCT:
        return np.asarray(rows, dtype=np.int32) @ np.asarray(queries, dtype=np.int32).T
    out = np.empty((rows.shape[0], queries.shape[0]), dtype=np.int32)
    q = queries.astype(np.float32).T
    for start in range(0, rows.shape[0], chunk):
        block = np.asarray(rows[start : start + chunk], dtype=np.float32)
        out[start : start + chunk] = (block @ q).astype(np.int32)
    return out


def nearest(units: np.ndarray, k: int) -> np.ndarray:
    """The rows of the `k` largest similarities, the largest first, ties by row: what a stable
    sort of all of them would give first, without sorting them all (350,000: 70 ms against 2)."""
    if len(units) <= k:
        return np.argsort(-units, kind="stable")
    kth = np.partition(units, len(units) - k)[len(units) - k]
    rows = np.flatnonzero(units >= kth)
    return rows[np.argsort(-units[rows], kind="stable")][:k]


def above(rows: np.ndarray, queries: np.ndarray, threshold: int, cells: int = 1 << 20,
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The pairs of int8 `rows` (n x d) and `queries` (m x d) at least `threshold` alike (integer
    units, as `similarity`): their row and query indices, sorted by row then query, and their
    similarities. The products are made and thresholded a block of rows at a time (about `cells`
    similarities, 4 MB), so the n x m matrix is never held (at 350,000 rows it is 70 MB a
    video), and only the rows whose best similarity reaches the threshold are searched for
    their pairs (a row's maximum is a fast reduction; finding the few pairs among all cells is
    not: benchmarks/corpus_scale.py)."""
    q = np.ascontiguousarray(queries, dtype=np.float32).T
    step = max(1, cells // max(1, queries.shape[0]))
    found_rows, found_queries, found_units = [], [], []
    for start in range(0, rows.shape[0], step):
        block = np.asarray(rows[start : start + step], dtype=np.float32) @ q  # exact: small integers
        candidates = np.flatnonzero(block.max(axis=1, initial=-np.inf) >= threshold)
        if not len(candidates):
            continue
        hits = block[candidates]
        i, j = np.nonzero(hits >= threshold)
        found_rows.append(candidates[i] + start)
        found_queries.append(j)
        found_units.append(hits[i, j].astype(np.int32))
    if not found_rows:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.int32)
    return np.concatenate(found_rows), np.concatenate(found_queries), np.concatenate(found_units)


# What was said (claimflow/store/said.py) is searched by meaning through each segment's signs:
# 256 bits, 32 bytes a segment (4.2 million segments: 134 MB, where int8 vectors would be 1 GB),
# compared by Hamming distance (XOR and popcount), then the nearest few hundred ranked again by
# the cosine of their float vectors. Two unit vectors' angle is about pi x their distance / 256.
CODE_BYTES = DIM // 8


def signs(vectors: np.ndarray) -> np.ndarray:
    """Each float vector's signs packed into bits (n x 32 uint8 for 256 dimensions)."""
    return np.packbits(np.asarray(vectors) > 0, axis=1)


def hamming(codes: np.ndarray, query: np.ndarray, words: int | None = None) -> np.ndarray:
    """The Hamming distances of n packed codes (n x 32 uint8) from one (32 uint8), or of their
    first `words` 64-bit words alone (2: the first 128 dimensions' signs, a code of its own
    since the model is trained Matryoshka-style; half the work). A word (a column) at a time:
    twice as fast as XOR over the rows' all words at once, whose strides numpy walks slowly."""
    rows, mine = np.ascontiguousarray(codes).view(np.uint64), np.ascontiguousarray(query).view(np.uint64)
    words = rows.shape[1] if words is None else words
    # Each word's count is at most 64: two words' sum fits in uint8, four need uint16 (256).
    total = np.bitwise_count(rows[:, 0] ^ mine[0]).astype(np.uint8 if words <= 2 else np.uint16)
    for word in range(1, words):
        total += np.bitwise_count(rows[:, word] ^ mine[word])
    return total


def closest(distances: np.ndarray, k: int) -> np.ndarray:
    """The rows of the `k` smallest distances (integers 0 to 256), the smallest first, ties by
    row: a stable sort's first `k`, found by counting (no sort of millions)."""
    if len(distances) <= k:
        return np.argsort(distances, kind="stable")
    cut = int(np.searchsorted(np.cumsum(np.bincount(distances, minlength=257)), k))  # the k-th's distance
    rows = np.flatnonzero(distances <= cut)
    return rows[np.argsort(distances[rows], kind="stable")][:k]


# What a static embedding cannot see: "X does not cause Y" sits at 0.97 of "X causes Y"
# (benchmarks/similarity.py: 440 of SICK's 712 contradictions at or above the same-claim
# threshold). A claim and its negation are never joined as one claim: linking makes them a
# candidate pair instead, which the judge decides by rule (claimflow/knowledge/judge.py NEGATION_RULE).
_NEGATION = re.compile(r"\b(?:not|no|never|nobody|none|nothing|neither|nor|nowhere|cannot)\b|n't\b|n’t\b", re.I)


def negated(text: str) -> bool:
    """Whether a claim says no (a negation word, or a contraction in n't)."""
    return _NEGATION.search(text) is not None


def cosine(units: np.ndarray | int) -> np.ndarray | float:
    """Integer similarity back to a cosine (for people: reports, the database)."""
    return np.asarray(units) / float(SCALE * SCALE)


MODELS = {"wordllama": WORDLLAMA, "wordllama-128": WORDLLAMA_128}
ACCEPTED = frozenset({"accept"})  # evaluation decisions whose claims are linked


@dataclass(frozen=True)
class Record:
    """A video's embeddings.json: its accepted claims and their int8 vectors, in claim order."""

    vid: str
    model: str  # Model.identity
    claim_ids: tuple[str, ...]
    vectors: np.ndarray  # int8, len(claim_ids) x dim

    def as_json(self) -> dict:
        return {"vid": self.vid, "model": self.model, "claim_ids": list(self.claim_ids),
                "dim": int(self.vectors.shape[1]) if self.vectors.ndim == 2 else DIM,
                "vectors": base64.b64encode(self.vectors.tobytes()).decode()}  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict) -> Record:
        dim = int(doc.get("dim") or DIM)
        vectors = np.frombuffer(base64.b64decode(doc.get("vectors") or ""), dtype=np.int8).reshape(-1, dim)
        ids = tuple(doc.get("claim_ids") or ())
        if len(ids) != len(vectors):
            raise ValueError(f"{doc.get('vid')}: embeddings.json has {len(ids)} claims but {len(vectors)} vectors")
        return cls(str(doc["vid"]), str(doc["model"]), ids, vectors)


def accepted_claims(claims_doc: dict, evaluation_doc: dict) -> list[tuple[str, str]]:
    """(claim id, text) of the claims the evaluation accepted, in claim id order."""
    decided = {e["claim_id"]: e.get("decision") for e in evaluation_doc.get("evaluations") or []}
    return sorted((c["claim_id"], c["claim_text"]) for c in claims_doc.get("claims") or []
                  if decided.get(c["claim_id"]) in ACCEPTED)  # fmt: skip


def embed_video(vid: str, claims_doc: dict, evaluation_doc: dict, embedder: Embedder) -> Record:
    claims = accepted_claims(claims_doc, evaluation_doc)
    dim = embedder.model.dim
    vectors = quantize(embedder.embed([text for _, text in claims])) if claims else np.zeros((0, dim), np.int8)
    return Record(vid, embedder.model.identity, tuple(cid for cid, _ in claims), vectors)


def embedder(name: str, config: dict[str, Any] | None = None, cache_dir: str | Path | None = None) -> Embedder:
    """The embedder a setting names (link.embedding); an endpoint's from `config` (link.endpoint,
    else the llm section's endpoint), its answers cached under `cache_dir`."""
    if name.startswith(ENDPOINT):
        return EndpointEmbedder(name[len(ENDPOINT) :], Endpoint.from_config(config or {}), cache_dir)
    if name not in MODELS:
        raise ValueError(f"link.embedding: unknown model {name!r}; one of {sorted(MODELS)} or {ENDPOINT}<model>")
    return WordLlamaEmbedder(MODELS[name])


def empty(vid: str, name: str) -> Record:
    """The record of a video with no accepted claim (no model loaded, no endpoint asked)."""
    model = Model("openai", name[len(ENDPOINT) :], 0) if name.startswith(ENDPOINT) else MODELS[name]
    return Record(vid, model.identity, (), np.zeros((0, model.dim), np.int8))
