#!/usr/bin/env python3
"""A keep-alive HTTP/1.1 server on 127.0.0.1 for bench/body_memory.sh, one thread per
connection:

    GET /length?bytes=N   a Content-Length body of N bytes (written 1 MiB at a time)
    GET /endless          a chunked body that never ends (64 KiB chunks, until the client
                          closes the connection)

Usage: body_server.py PORT   (runs until killed)
"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

PORT = int(sys.argv[1])
BLOCK = b"a" * (1 << 20)
CHUNK = b"%x\r\n" % (64 * 1024) + b"a" * (64 * 1024) + b"\r\n"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        try:
            if url.path == "/endless":
                self.send_response(200)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                while True:
                    self.wfile.write(CHUNK)
            size = int(parse_qs(url.query).get("bytes", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            while size > 0:
                n = min(size, len(BLOCK))
                self.wfile.write(BLOCK[:n] if n < len(BLOCK) else BLOCK)
                size -= n
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, *args):
        pass


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
