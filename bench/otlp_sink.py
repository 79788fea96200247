"""A local OTLP/HTTP endpoint that accepts spans and discards them, for measuring the
gateway with tracing on (bench/load.py). Prints the number of exports it received when
stopped.

    python bench/otlp_sink.py PORT
"""

from __future__ import annotations

import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Sink(BaseHTTPRequestHandler):
    exports = 0
    protocol_version = "HTTP/1.1"  # keep-alive, as a collector would

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Sink.exports += 1
        # An empty ExportTraceServiceResponse: everything accepted.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print("otlp sink listening", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    print(f"otlp sink: {Sink.exports} exports", flush=True)


if __name__ == "__main__":
    main()
