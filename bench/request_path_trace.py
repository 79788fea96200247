"""The shape of the request path, counted: one `POST /v1/chat/completions` (a cache miss
answered by the fake upstream, not streamed) traced through the project's own modules.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/request_path_trace.py

Counts, with `sys.setprofile`, every call that crosses from one project module to another:
- stops: calls into another module of the project;
- modules: how many distinct ones the request visits;
- climbs: calls from a lower layer into a higher one (gateway_site is 0; keys, cache and
  stats are 1; completions is 2), i.e. a lower room calling back up;
- re-entries: calls into a module the request had already left (not one on the stack).
Coroutines resuming count as calls too (that is how Python reports them), the same way in
every version, so compare the figures between versions, not with a hand count. Used for
issue 9's before/after (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Leaf helpers any module may call (a lookup, a counter, an id): left out with --rooms-only,
# which counts only the rooms the request itself travels through.
LEAVES = ("gateway_site.runtime", "gateway_site.breaker", "gateway_site.request_ids", "gateway_site.redaction",
          "gateway_site.quiet_log", "gateway_site.gateway_config", "gateway_site.redis_client", "apps.stats.metrics")
ROOMS_ONLY = "--rooms-only" in sys.argv

LAYERS = {"gateway_site": 0, "apps.keys": 1, "apps.cache": 1, "apps.stats": 1, "apps.completions": 2}


def module_of(filename: str) -> str | None:
    path = Path(filename)
    if not path.is_absolute() or ROOT not in path.parents or ".venv" in path.parts or "tests" in path.parts:
        return None
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return None if ROOMS_ONLY and module in LEAVES else module


def layer_of(module: str) -> int | None:
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


class Tracer:
    def __init__(self) -> None:
        self.stack: list[str | None] = []
        self.visited: set[str] = set()
        self.stops = self.climbs = self.reentries = 0
        self.path: list[str] = []
        self.climb_edges: list[str] = []

    def __call__(self, frame, event, arg) -> None:
        if event == "call":
            module = module_of(frame.f_code.co_filename)
            caller = next((m for m in reversed(self.stack) if m is not None), None)
            if module is not None and caller is not None and module != caller:
                self.stops += 1
                self.path.append(module)
                low, high = layer_of(caller), layer_of(module)
                if low is not None and high is not None and high > low:
                    self.climbs += 1
                    self.climb_edges.append(f"{caller} -> {module}")
                if module in self.visited and module not in self.stack:
                    self.reentries += 1
            if module is not None:
                self.visited.add(module)
            self.stack.append(module)
        elif event == "return" and self.stack:
            self.stack.pop()


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    from tests.fakes.runner import FakeUpstream

    with FakeUpstream() as fake:
        os.environ.update(fake.env())
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from apps.keys.services import key_create

        _, raw = key_create(name="trace", rpm=1_000_000)
        import httpx

        from gateway_site.asgi import application

        async def ask(text: str) -> int:
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                response = await client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {raw}"},
                                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": text}]})
                return response.status_code

        async def traced() -> Tracer:
            assert await ask(f"warm up {os.getpid()}") == 200
            tracer = Tracer()
            sys.setprofile(tracer)
            try:
                status = await ask(f"trace me {os.getpid()}")
            finally:
                sys.setprofile(None)
            assert status == 200
            await asyncio.sleep(1)  # let the usage writer's batch go before the loop ends
            return tracer

        tracer = asyncio.run(traced())
    modules = sorted(tracer.visited)
    print(f"stops {tracer.stops}, modules {len(modules)}, climbs up a layer {tracer.climbs}, re-entries {tracer.reentries}")
    print("modules:", ", ".join(modules))
    print("climbs:", "; ".join(tracer.climb_edges))
    if "--path" in sys.argv:
        print("path:", " > ".join(tracer.path))


if __name__ == "__main__":
    main()
