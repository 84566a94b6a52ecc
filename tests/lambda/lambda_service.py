#!/usr/bin/env python3
"""A small local Lambda service: each function's own binary runs as its own process
against its own Lambda Runtime API (2018-06-01), as in Lambda, and callers invoke
them through the Lambda Invoke API (`POST /2015-03-31/functions/NAME/invocations`),
as the local gateway's `--invoke-url` does.

    lambda_service.py --invoke-port PORT --runtime-port-base PORT --logs DIR \\
        NAME=BINARY [NAME=BINARY ...]

- Every function starts at once (its init runs before its first invocation, as a
  warm instance's has) with this process's environment plus the variables Lambda
  sets (AWS_LAMBDA_RUNTIME_API, AWS_LAMBDA_FUNCTION_NAME, ...); its output goes to
  DIR/NAME.log. One instance per function: its invocations run one at a time.
- An invocation is handed to `GET /runtime/invocation/next` with Lambda's headers
  (request id, deadline, function ARN, trace id). Its `/response` is answered to the
  caller with 200; its `/error`, a crash or the function's timeout with 200 and
  `X-Amz-Function-Error: Unhandled`, as Lambda answers them. A process that exited
  is started again at the next invocation, as Lambda starts a new instance.
- `GET /ready` answers 200 once every function has asked for its first invocation
  (its init is done), 500 naming the functions that exited.

Standard library only."""
import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RUNTIME = "/2018-06-01/runtime"
INVOKE = "/2015-03-31/functions/"
TIMEOUT_SECONDS = 30  # the template's Timeout for every function


class Invocation:
    def __init__(self, payload: bytes):
        self.id = str(uuid.uuid4())
        self.payload = payload
        self.done = threading.Event()
        self.body = b""
        self.error = None  # None, or Lambda's X-Amz-Function-Error value

    def finish(self, body: bytes, error=None):
        if not self.done.is_set():
            self.body, self.error = body, error
            self.done.set()


class Function:
    def __init__(self, name: str, binary: str, port: int, logs: str):
        self.name, self.binary, self.port, self.logs = name, binary, port, logs
        self.pending: "queue.Queue[Invocation]" = queue.Queue()
        self.current = {}
        self.lock = threading.Lock()
        self.process = None
        self.ready = False
        self.exits = 0

    def start(self):
        env = dict(os.environ)
        env.update(
            AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.port}",
            AWS_LAMBDA_FUNCTION_NAME=self.name,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.name}",
            AWS_LAMBDA_LOG_STREAM_NAME=f"local-{self.exits}",
            _HANDLER="bootstrap",
        )
        log = open(os.path.join(self.logs, f"{self.name}.log"), "ab")
        self.ready = False
        self.process = subprocess.Popen([self.binary], env=env, stdout=log, stderr=subprocess.STDOUT)
        threading.Thread(target=self.watch, args=(self.process,), daemon=True).start()

    def watch(self, process):
        code = process.wait()
        with self.lock:
            self.exits += 1
            failed = list(self.current.values())
            self.current.clear()
        body = json.dumps({"errorType": "Runtime.ExitError", "errorMessage": f"the process exited ({code})"})
        for invocation in failed:
            invocation.finish(body.encode(), "Unhandled")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def invoke(self, payload: bytes) -> Invocation:
        with self.lock:
            if not self.alive():
                self.start()
        invocation = Invocation(payload)
        self.pending.put(invocation)
        if not invocation.done.wait(TIMEOUT_SECONDS + 5):
            # Lambda ends the instance of a timed-out invocation.
            if self.process is not None:
                self.process.kill()
            body = {"errorType": "Sandbox.Timedout", "errorMessage": f"timed out after {TIMEOUT_SECONDS} s"}
            invocation.finish(json.dumps(body).encode(), "Unhandled")
        return invocation


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that logs nothing and answers with `answer`."""

    content_type = None

    def log_message(self, *args):
        pass

    def answer(self, status: int, body: bytes = b"{}", headers=()):
        self.send_response(status)
        if self.content_type:
            self.send_header("Content-Type", self.content_type)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def runtime_api(function: Function):
    class Api(QuietHandler):

        def do_GET(self):
            if self.path != f"{RUNTIME}/invocation/next":
                self.answer(404)
                return
            function.ready = True
            invocation = function.pending.get()
            with function.lock:
                function.current[invocation.id] = invocation
            deadline = int(time.time() * 1000) + TIMEOUT_SECONDS * 1000
            self.answer(
                200,
                invocation.payload,
                [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", invocation.id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline)),
                    ("Lambda-Runtime-Invoked-Function-Arn", f"arn:aws:lambda:us-east-1:123456789012:function:{function.name}"),
                    ("Lambda-Runtime-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"),
                ],
            )

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            parts = self.path[len(RUNTIME) + 1 :].split("/")
            if parts == ["init", "error"]:
                sys.stderr.write(f"{function.name}: init error: {body.decode('utf-8', 'replace')}\n")
                self.answer(202)
                return
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                with function.lock:
                    invocation = function.current.pop(parts[1], None)
                if invocation is None:
                    self.answer(400, b'{"errorType":"InvalidRequestID"}')
                    return
                invocation.finish(body, None if parts[2] == "response" else "Unhandled")
                self.answer(202)
                return
            self.answer(404)

    return Api


def invoke_api(functions):
    class Api(QuietHandler):
        content_type = "application/json"

        def do_GET(self):
            if self.path != "/ready":
                self.answer(404, b"{}")
                return
            exited = [f.name for f in functions.values() if f.process is not None and not f.alive()]
            if exited:
                self.answer(500, json.dumps({"exited": exited}).encode())
            elif all(f.ready for f in functions.values()):
                self.answer(200, b'{"ready":true}')
            else:
                self.answer(503, b'{"ready":false}')

        def do_POST(self):
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            name = self.path[len(INVOKE) :].split("/")[0] if self.path.startswith(INVOKE) else ""
            function = functions.get(name)
            if function is None or not self.path.endswith("/invocations"):
                body = {"Type": "User", "Message": f"Function not found: {name}"}
                self.answer(404, json.dumps(body).encode(), [("x-amzn-ErrorType", "ResourceNotFoundException")])
                return
            invocation = function.invoke(payload)
            headers = [("X-Amz-Executed-Version", "$LATEST")]
            if invocation.error:
                headers.append(("X-Amz-Function-Error", invocation.error))
            self.answer(200, invocation.body, headers)

    return Api


def serve(port: int, handler):
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoke-port", type=int, required=True)
    parser.add_argument("--runtime-port-base", type=int, required=True)
    parser.add_argument("--logs", required=True)
    parser.add_argument("functions", nargs="+", metavar="NAME=BINARY")
    args = parser.parse_args()
    functions = {}
    for i, spec in enumerate(args.functions):
        name, binary = spec.split("=", 1)
        functions[name] = Function(name, binary, args.runtime_port_base + i, args.logs)
    for f in functions.values():
        serve(f.port, runtime_api(f))
    for f in functions.values():
        f.start()
    serve(args.invoke_port, invoke_api(functions))
    # Stopped by a signal, it stops its functions first.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for f in functions.values():
            if f.alive():
                f.process.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
