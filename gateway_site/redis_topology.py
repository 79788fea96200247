"""The three shapes REDIS_URL may name, and the redis-py clients that speak each.

    redis://[[user]:password@]host:6379/0          one Redis (rediss:// with TLS, unix:// a socket)
    redis+sentinel://[[user]:password@]host1:26379,host2:26379/mymaster/0
                                                   the primary that Sentinel names "mymaster"
    redis+cluster://[[user]:password@]host1:7000,host2:7001
                                                   a Redis Cluster, from any of its nodes

`rediss+sentinel://` and `rediss+cluster://` speak TLS to the data nodes. The password is
the data nodes'; sentinels that want their own take `?sentinel_password=...`. Sentinel's
default port is 26379, a cluster node's 6379. A cluster has one database: no `/db`.

The request path's own client (gateway_site/fast_redis.py) reads the same parsed form; the
sync callers (pub/sub, admin, management commands) get redis-py's client for the shape.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.sentinel import Sentinel

SINGLE, SENTINEL, CLUSTER = "single", "sentinel", "cluster"
_SCHEMES = {
    "redis+sentinel": (SENTINEL, False), "rediss+sentinel": (SENTINEL, True),
    "redis+cluster": (CLUSTER, False), "rediss+cluster": (CLUSTER, True),
}
_DEFAULT_PORT = {SENTINEL: 26379, CLUSTER: 6379}

Address = tuple[str, int]


@dataclass(frozen=True)
class RedisTopology:
    kind: str  # SINGLE, SENTINEL or CLUSTER
    hosts: tuple[Address, ...] = ()  # sentinels, or a cluster's seed nodes
    service: str = ""  # the primary's name at the sentinels
    db: int = 0
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def parse_topology(url: str) -> RedisTopology:
    """Raises ValueError on a URL of none of the three shapes."""
    scheme, _, rest = url.partition("://")
    if scheme not in _SCHEMES:
        return RedisTopology(kind=SINGLE)
    kind, use_tls = _SCHEMES[scheme]
    netloc, _, tail = rest.partition("/")
    path, _, query_string = tail.partition("?")
    query = dict(urllib.parse.parse_qsl(query_string))
    userinfo, _, host_list = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    hosts = tuple(_address(item, _DEFAULT_PORT[kind]) for item in host_list.split(",") if item)
    if not hosts:
        raise ValueError(f"no host in the Redis {kind} URL")
    segments = [urllib.parse.unquote(segment) for segment in path.split("/") if segment]
    service, db = "", int(query.get("db", 0))
    if kind == SENTINEL:
        if not segments:
            raise ValueError("a redis+sentinel:// URL names its primary: redis+sentinel://host:26379/mymaster/0")
        service, db = segments[0], int(segments[1]) if len(segments) > 1 else db
    elif segments or db:
        raise ValueError("a Redis Cluster has one database: no /db in a redis+cluster:// URL")
    return RedisTopology(
        kind=kind, hosts=hosts, service=service, db=db, use_tls=use_tls,
        username=urllib.parse.unquote(username) or None,
        password=urllib.parse.unquote(password) or query.get("password"),
        sentinel_password=query.get("sentinel_password"),
    )


def _address(item: str, default_port: int) -> Address:
    parts = urllib.parse.urlsplit(f"//{item}")  # urlsplit knows [::1]:port
    return parts.hostname or "localhost", parts.port or default_port


def sync_redis(url: str, **options) -> redis.Redis | RedisCluster:
    """redis-py's client for `url`, whichever shape it names; `options` are socket options
    (socket_timeout, socket_connect_timeout, ...)."""
    topology = parse_topology(url)
    if topology.kind == SINGLE:
        return redis.Redis.from_url(url, **options)
    credentials = {"username": topology.username, "password": topology.password, "ssl": topology.use_tls}
    if topology.kind == SENTINEL:
        sentinel_options = {key: value for key, value in options.items() if key.startswith("socket_")}
        sentinel = Sentinel(list(topology.hosts), sentinel_kwargs={**sentinel_options, "password": topology.sentinel_password})
        return sentinel.master_for(topology.service, db=topology.db, **credentials, **options)
    nodes = [ClusterNode(host, port) for host, port in topology.hosts]
    return RedisCluster(startup_nodes=nodes, **credentials, **options)


def channel_layer(url: str) -> dict:
    """The console's channel layer (channels_redis) for `url`. A cluster gets the pub/sub
    layer on its first node: PUBLISH reaches every node of a cluster, but channels_redis
    has no cluster client, so the live dashboard depends on that node (the console falls
    back to polling without it)."""
    topology = parse_topology(url)
    if topology.kind == SINGLE:
        return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [url]}}
    tls = "rediss" if topology.use_tls else "redis"
    if topology.kind == SENTINEL:
        host = {"sentinels": list(topology.hosts), "master_name": topology.service, "db": topology.db,
                "sentinel_kwargs": {"password": topology.sentinel_password},
                "username": topology.username, "password": topology.password, "ssl": topology.use_tls}
        return {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}
    credentials = ""
    if topology.password:
        credentials = f"{urllib.parse.quote(topology.username or '')}:{urllib.parse.quote(topology.password)}@"
    first_host, first_port = topology.hosts[0]
    return {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [f"{tls}://{credentials}{first_host}:{first_port}/0"]}}
