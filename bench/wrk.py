"""Driving wrk (a load generator written in C) from Python and reading its figures.

wrk runs in its own process, so the Python side only starts it and parses the JSON that
the Lua `done` hook prints. Each request body carries a unique prompt (a per-thread
counter) so no cache can answer it unless a scenario wants that.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

LUA_TEMPLATE = r"""
local counter = 0
local thread_id = 0
local threads = {}
local unique = UNIQUE
setup = function(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
init = function(args)
  thread_id = tid or 0
end
request = function()
  counter = counter + 1
  local prompt = PROMPT
  if unique then prompt = prompt .. " #" .. thread_id .. "-" .. counter end
  local body = string.format(BODY, prompt)
  return wrk.format("POST", nil, nil, body)
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write("WRK_JSON ", string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int

    def row(self) -> str:
        return f"{self.rps:9.0f} rps  p50 {self.p50_ms:7.2f} ms  p90 {self.p90_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  errors {self.errors}"


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    return path


def run_wrk(url: str, *, body_template: str, prompt: str, headers: dict[str, str], connections: int,
            seconds: float, unique: bool = True, threads: int = 1) -> WrkResult:
    """body_template has one %s where the prompt (a JSON string body) goes."""
    script = (
        LUA_TEMPLATE.replace("UNIQUE", "true" if unique else "false")
        .replace("PROMPT", lua_string(prompt))
        .replace("BODY", lua_string(body_template))
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        script_path = handle.name
    command = [require_wrk(), "-t", str(min(threads, connections)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
               "--timeout", "30s", "-s", script_path]
    for name, value in {"Content-Type": "application/json", **headers}.items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    Path(script_path).unlink(missing_ok=True)
    line = next(line for line in output.splitlines() if line.startswith("WRK_JSON "))
    data = json.loads(line[len("WRK_JSON "):])
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return WrkResult(
        requests=data["requests"],
        rps=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
    )
