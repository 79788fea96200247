"""A real local HTTP fake of the OpenAI, Anthropic and Gemini APIs, with fault injection.

Start it with `tests.fakes.runner.FakeUpstream` (tests, benchmarks) or
`python -m tests.fakes.upstream` (demo mode). See README.md for endpoints and directives.
"""
