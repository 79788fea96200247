"""Debian's nginx as a child process in front of several gateways (tests/gateway_server.py),
loopback only, with a configuration generated in a temporary directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.gateway_server import free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# What a rolling restart needs, and why (docs/operations.md, "Behind nginx"):
# - no keep-alive to the gateways: a gateway told to stop (SIGTERM) refuses new connections
#   at once and finishes the requests it holds; a pooled connection it closes while nginx
#   writes on it would fail a request that was never read;
# - proxy_next_upstream error non_idempotent: a refused or reset connection goes to the next
#   gateway, POST included. Safe here: a draining gateway answers every request it has read,
#   so a reset request was never served. Never `timeout`: a slow answer is not retried;
# - max_fails/fail_timeout: a stopped gateway is skipped for a second, then tried again;
# - proxy_buffering off: stream events reach the client as they are sent.
CONFIG = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream gateways {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 10m;
        location / {{
            proxy_pass http://gateways;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_buffering off;
            proxy_next_upstream error non_idempotent;
            proxy_next_upstream_tries 3;
            proxy_connect_timeout 2s;
            proxy_read_timeout 120s;
        }}
    }}
}}
"""


def nginx_available() -> bool:
    return Path(NGINX).is_file()


class Nginx:
    def __init__(self, upstream_ports: list[int], directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.directory = directory
        self.upstream_ports = upstream_ports
        self.process: subprocess.Popen | None = None

    def start(self) -> "Nginx":
        servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=1s;" for port in self.upstream_ports)
        config = self.directory / "nginx.conf"
        config.write_text(CONFIG.format(prefix=self.directory, servers=servers, port=self.port))
        self.process = subprocess.Popen([NGINX, "-c", str(config), "-p", str(self.directory), "-e", str(self.directory / "error.log")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.error_log()}")

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # nginx: fast shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
