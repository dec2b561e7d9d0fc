#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 server on 127.0.0.1 that answers every request after a precise
delay (time.sleep, i.e. clock_nanosleep: ~0.1 ms precision, no 1 ms timer tick), one
thread per connection. For bench/accuracy.sh: a reference "fixed 20 ms" server, since
`loadplan mock`'s ?delay=20 is a tokio sleep that ends on a 1 ms tick (≈ 21.5 ms).

Usage: delay_server.py PORT DELAY_MS   (runs until killed)
"""
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, DELAY = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
BODY = b"x" * 256


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def parse_request(self):
        # the request line has just been read: the delay counts from here
        self.t0 = time.perf_counter()
        return super().parse_request()

    def do_GET(self):
        rest = self.t0 + DELAY - time.perf_counter()
        if rest > 0:
            time.sleep(rest)  # clock_nanosleep; the GIL is released while sleeping
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


if __name__ == "__main__":
    sys.setswitchinterval(0.0002)  # hand the GIL over quickly to a thread whose sleep ended
    Server(("127.0.0.1", PORT), Handler).serve_forever()
