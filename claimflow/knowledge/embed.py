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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

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


def quantize(vectors: np.ndarray) -> np.ndarray:
    """Unit float vectors to int8 (x127, rounded). Quantization moves a cosine by about 0.002
    (measured on STS-B: benchmarks/similarity.py), well inside the threshold's own margin."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors, dtype=np.float32), where=norms > 0)
    return np.clip(np.rint(unit * SCALE), -SCALE, SCALE).astype(np.int8)


def threshold_units(cosine: float) -> int:
    """A cosine threshold in the integer units `similarity` returns (x127^2, rounded up)."""
    return int(np.ceil(cosine * SCALE * SCALE - 1e-9))


def similarity(rows: np.ndarray, queries: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """The integer dot products of int8 `rows` (n x d) with int8 `queries` (m x d): an n x m
    int32 array, exact (float32 matrix products of small integers), in chunks of rows so a
    memory-mapped index is read a slice at a time."""
    out = np.empty((rows.shape[0], queries.shape[0]), dtype=np.int32)
    q = queries.astype(np.float32).T
    for start in range(0, rows.shape[0], chunk):
        block = np.asarray(rows[start : start + chunk], dtype=np.float32)
        out[start : start + chunk] = (block @ q).astype(np.int32)
    return out


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


def embedder(name: str) -> Embedder:
    """The embedder a setting names (link.embedding)."""
    if name not in MODELS:
        raise ValueError(f"link.embedding: unknown model {name!r}; one of {sorted(MODELS)}")
    return WordLlamaEmbedder(MODELS[name])


def empty(vid: str, name: str) -> Record:
    """The record of a video with no accepted claim (no model loaded for it)."""
    return Record(vid, MODELS[name].identity, (), np.zeros((0, MODELS[name].dim), np.int8))
