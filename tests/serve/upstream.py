"""A real HTTP upstream on loopback for the remote engine's tests: it records every
request body and answers as told (an OpenAI-style SSE stream, an error status, a
stream that breaks off, silence)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Upstream:
    def __init__(self) -> None:
        self.bodies: list[tuple[str, dict]] = []
        self.mode = "ok"  # ok | status:<code> | break | hang
        self.text = "abc"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                server.bodies.append((self.path, body))
                mode = server.mode
                if mode.startswith("status:"):
                    code = int(mode.split(":")[1])
                    payload = json.dumps({"error": {"message": f"upstream says {code}"}}).encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if mode == "hang":
                    time.sleep(3)
                    return
                if self.path == "/tokenize":
                    payload = json.dumps({"tokens": list(range(len(body.get("content", ""))))}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for ch in server.text:
                    event = {"choices": [{"index": 0, "text": ch, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                    self.wfile.flush()
                if mode == "break":
                    return  # connection closes with no [DONE]
                if mode == "error_event":
                    self.wfile.write(b'data: {"error": {"message": "model crashed"}}\n\n')
                    return
                self.wfile.write(b"data: [DONE]\n\n")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @contextlib.contextmanager
    def running(self):
        t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        t.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
