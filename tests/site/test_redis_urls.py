"""REDIS_URL's Sentinel and Cluster forms (docs/configuration.md)."""

from __future__ import annotations

import pytest

from gateway_site.redis_topology import CLUSTER, SENTINEL, SINGLE, parse_topology


def test_it_reads_sentinels_the_primary_name_the_db_and_both_passwords():
    topology = parse_topology("rediss+sentinel://bob:p%40ss@s1:26380,s2,[::1]:26381/mymaster/3?sentinel_password=watch")
    assert topology.kind == SENTINEL and topology.use_tls
    assert topology.hosts == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert (topology.service, topology.db) == ("mymaster", 3)
    assert (topology.username, topology.password, topology.sentinel_password) == ("bob", "p@ss", "watch")


def test_it_reads_cluster_seed_nodes_with_the_default_port():
    topology = parse_topology("redis+cluster://:secret@n1:7000,n2")
    assert topology.kind == CLUSTER and topology.hosts == (("n1", 7000), ("n2", 6379))
    assert topology.password == "secret" and topology.username is None


def test_it_leaves_plain_urls_to_the_single_node_client():
    assert parse_topology("redis://localhost:6379/0").kind == SINGLE
    assert parse_topology("unix:///tmp/redis.sock").kind == SINGLE


@pytest.mark.parametrize("url", ["redis+sentinel://s1:26379", "redis+cluster://n1:7000/2", "redis+cluster:///"])
def test_it_refuses_an_incomplete_or_impossible_url(url):
    with pytest.raises(ValueError):
        parse_topology(url)
