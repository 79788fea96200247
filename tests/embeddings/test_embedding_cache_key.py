"""Which embeddings requests share an exact-cache entry: the same vectors, whatever their
rendering, in one namespace."""

import orjson

from apps.embeddings.validation import parse_embedding_request
from apps.keys.registry import KeyInfo
from gateway_site.gateway_config import get_config


def key_of(body: dict, *, namespace: str = "team-a") -> str | None:
    key = KeyInfo(1, "alice", "pgw-alice", "hash", False, None, None, frozenset(), namespace, None, False)
    return parse_embedding_request(orjson.dumps(body), key=key, config=get_config()).cache.exact_key


def test_it_shares_an_entry_between_renderings_and_input_shapes():
    plain = {"model": "text-embedding-3-small", "input": "hello"}
    assert key_of(plain) == key_of({**plain, "encoding_format": "base64"}) == key_of({**plain, "input": ["hello"]})
    assert key_of(plain) == key_of({**plain, "dimensions": 1536}) == key_of({**plain, "user": "bob"})


def test_it_keeps_apart_what_changes_the_vectors():
    plain = {"model": "text-embedding-3-small", "input": "hello"}
    others = [{**plain, "dimensions": 256}, {**plain, "input": "hello!"}, {**plain, "model": "text-embedding-3-large"},
              {**plain, "input": ["hello", "world"]}]
    assert len({key_of(plain), *(key_of(body) for body in others)}) == 1 + len(others)
    assert key_of(plain) != key_of(plain, namespace="team-b")


def test_it_uses_no_cache_for_a_key_without_one():
    assert key_of({"model": "all-minilm-l6-v2", "input": "hello"}, namespace="none") is None
