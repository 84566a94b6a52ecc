#!/usr/bin/env python3
"""A one-invocation Lambda Runtime API (2018-06-01), as Lambda serves it to a
function's bootstrap: `GET /runtime/invocation/next` hands over EVENT once (then
blocks, as Lambda does between invocations), the function's
`POST /runtime/invocation/<id>/response` is printed to stdout as JSON and ends the
run with 0; an `/error` or `/init/error` post ends it with 1, printing what was posted.

    runtime_api.py PORT EVENT_FILE FUNCTION_NAME [TIMEOUT_SECONDS]

Standard library only, so it runs on any Python 3."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"
REQUEST_ID = "8476a536-e9f4-11e8-9739-2dfe598c3fcd"


def main() -> int:
    port, event_file, function = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    with open(event_file, "rb") as f:
        event = f.read()
    done = threading.Event()
    outcome = {"code": 1, "text": f"no answer within {timeout:.0f} s"}
    handed = threading.Lock()
    state = {"handed": False}

    class Api(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet: the outcome is the output
            pass

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self):
            if self.path != f"{PREFIX}/invocation/next":
                self.send_error(404)
                return
            with handed:
                first = not state["handed"]
                state["handed"] = True
            if not first:
                done.wait()  # no second invocation: wait until the run ends
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Lambda-Runtime-Aws-Request-Id", REQUEST_ID)
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30_000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                f"arn:aws:lambda:us-east-1:123456789012:function:{function}",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=0")
            self.send_header("Content-Length", str(len(event)))
            self.end_headers()
            self.wfile.write(event)

        def do_POST(self):
            body = self._body()
            if self.path == f"{PREFIX}/invocation/{REQUEST_ID}/response":
                outcome.update(code=0, text=body.decode("utf-8", "replace"))
            elif self.path in (f"{PREFIX}/invocation/{REQUEST_ID}/error", f"{PREFIX}/init/error"):
                kind = self.headers.get("Lambda-Runtime-Function-Error-Type", "?")
                outcome.update(code=1, text=f"{self.path} ({kind}): {body.decode('utf-8', 'replace')}")
            else:
                self.send_error(404)
                return
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
            done.set()

    server = ThreadingHTTPServer(("127.0.0.1", port), Api)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    done.wait(timeout)
    print(outcome["text"])
    return outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
