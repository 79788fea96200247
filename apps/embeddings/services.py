"""Serving `POST /v1/embeddings`: the exact cache, then the model (upstream or local).

Upstream calls go through the chat completions' machinery: one attempt per call with
retries and the provider's circuit breaker (apps/completions/router.py), errors mapped
once (apps/completions/failures.py). There are no fallbacks: another model's vectors live
in another space, so they would be wrong, not late. What happened is written into the
request's `Outcome`, which the front door records once the client has its answer.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

import orjson

from apps.cache.services import acache_lookup_embeddings, embeddings_cache_store
from apps.completions.failures import aupstream_call
from apps.completions.outcome import CHARS_PER_TOKEN, Outcome
from apps.completions.providers.types import UpstreamRequest
from apps.completions.router import arun_with_fallbacks
from apps.embeddings import local, vectors
from apps.embeddings.providers.registry import embedding_adapter_for
from apps.embeddings.providers.types import EmbeddingAdapter, EmbeddingBatch
from apps.embeddings.validation import EmbeddingRequest
from gateway_site.errors import ProviderError
from gateway_site.gateway_config import LOCAL_PROTOCOL

MAX_CONCURRENT_CALLS = 4  # per request: a 2048-text Gemini request makes 21 calls


@dataclass
class EmbeddingResponse:
    body: bytes
    headers: dict[str, str]


async def aembeddings_create(request: EmbeddingRequest, outcome: Outcome) -> EmbeddingResponse:
    document = await acache_lookup_embeddings(request.cache)
    if document is not None:
        embeddings = vectors.from_document(document)
        outcome.cache = "exact"
        cache_header = "HIT-EXACT"
    else:
        embeddings = await _aembed(request, outcome)
        embeddings_cache_store(request.cache, vectors.to_document(embeddings))  # after the response
        cache_header = "MISS"
    outcome.usage, outcome.tokens_estimated = embeddings.usage, embeddings.tokens_estimated
    body = vectors.response_body(embeddings, model=request.route.name, as_base64=request.as_base64)
    return EmbeddingResponse(body=body, headers={"X-Cache": cache_header})


async def _aembed(request: EmbeddingRequest, outcome: Outcome) -> vectors.Embeddings:
    route = outcome.served_by = request.route
    if route.provider.protocol == LOCAL_PROTOCOL:
        return await local.alocal_embeddings(request.texts)
    adapter = embedding_adapter_for(route.provider.protocol)
    calls = adapter.build_requests(request.inputs, route=route, dimensions=request.dimensions, payload=request.payload)
    limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

    async def acall(call: UpstreamRequest) -> tuple[EmbeddingBatch, int]:
        async with limit:
            batch, result = await arun_with_fallbacks([route], lambda _: _attempt(adapter, call, request))
            return batch, result.attempts

    tasks = [asyncio.ensure_future(acall(call)) for call in calls]
    try:
        answers = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:  # one call failed for good: the others' vectors are of no use
            task.cancel()
        raise
    outcome.attempts = sum(attempts for _, attempts in answers)
    return _joined([batch for batch, _ in answers], request)


async def _attempt(adapter: EmbeddingAdapter, call: UpstreamRequest, request: EmbeddingRequest) -> EmbeddingBatch:
    return await aupstream_call(request.route, call, adapter.parse_error, lambda body: adapter.parse_response(
        orjson.loads(body), route=request.route, dimensions=request.dimensions))


def _joined(batches: list[EmbeddingBatch], request: EmbeddingRequest) -> vectors.Embeddings:
    found = [vector for batch in batches for vector in batch.vectors]
    if len(found) != len(request.inputs):
        provider = request.route.provider.name
        raise ProviderError(f"{provider} returned {len(found)} vectors for {len(request.inputs)} inputs")
    if all(batch.prompt_tokens is not None for batch in batches):
        return vectors.Embeddings(found, sum(batch.prompt_tokens for batch in batches))
    chars = sum(len(text) for text in request.texts)  # Gemini says no count: estimated, and marked so
    return vectors.Embeddings(found, math.ceil(chars / CHARS_PER_TOKEN), tokens_estimated=True)
