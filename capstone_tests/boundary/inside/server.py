"""The object server: the only grader code in the student's process.

It holds the student's objects under harness-assigned handles and does what each request says (import a
contract module, read or set an attribute, call, apply an operator, build a container from `adaptors`, fetch
values). It knows no test, no challenge, no check: it only sees the operations of the one test it serves,
and its whole output is answers, which the harness treats as untrusted data. See protocol.py for the format.

A watchdog thread says `busy` once a request has run for a second, so a test that times out can be told
which call it was stuck in.
"""

from __future__ import annotations

import importlib
import json
import linecache
import operator
import os
import sys
import threading
import time
import traceback
from typing import Any

from . import adaptors, protocol

MAX_FRAMES = 12
BUSY_AFTER_S = 1.0


OPERATIONS: dict[str, Any] = {name: getattr(operator, name) for name in protocol.OPERATORS}


class Server:
    def __init__(self, answers_fd: int) -> None:
        self.objects: dict[int, Any] = {}
        self.answers_fd = answers_fd
        self.failure: dict[str, Any] | None = None  # the first error since the last answer
        self.count = 0  # requests read so far; the number of the one running
        self.started: float | None = None
        self.write_lock = threading.Lock()

    # ------------------------------------------------------------------------------------------- plumbing
    def write(self, answer: dict[str, Any]) -> None:
        data = (json.dumps(answer, separators=(",", ":")) + "\n").encode()
        with self.write_lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.answers_fd, view):]

    def resolve(self, handle: int) -> Any:
        try:
            return self.objects[handle]
        except KeyError:
            raise LookupError(f"object #{handle} does not exist (the request that made it failed)") from None

    def arguments(self, request: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        args = protocol.decode(request.get("args", []), self.resolve)
        kwargs = protocol.decode(request.get("kwargs", {"$d": []}), self.resolve)
        return list(args), {str(k): v for k, v in kwargs.items()}

    # ------------------------------------------------------------------------------------------- requests
    def handle(self, request: dict[str, Any]) -> dict[str, Any] | None:
        op = request["op"]
        if op == "import":
            return self.do_import(request)
        if op == "fetch":
            return {"r": "values", "values": [protocol.encode(self.resolve(h)) for h in request["objs"]]}
        if op == "sync":
            return {"r": "ok"}
        if op == "unpack":
            items = list(self.resolve(request["obj"]))
            if len(items) > min(int(request["limit"]), protocol.MAX_UNPACK):
                raise ValueError(f"{len(items)} items are more than the {request['limit']} the test expects")
            for offset, item in enumerate(items):
                self.objects[request["id"] + offset] = item
            return {"r": "count", "n": len(items)}
        if op == "release":
            for handle in request["ids"]:
                self.objects.pop(handle, None)
            return None
        if op == "get":
            value = getattr(self.resolve(request["obj"]), request["name"])
        elif op == "set":
            setattr(self.resolve(request["obj"]), request["name"], protocol.decode(request["value"], self.resolve))
            return None
        elif op == "call":
            args, kwargs = self.arguments(request)
            value = self.resolve(request["obj"])(*args, **kwargs)
        elif op == "method":
            args, kwargs = self.arguments(request)
            value = getattr(self.resolve(request["obj"]), request["name"])(*args, **kwargs)
        elif op == "operator":
            args, _ = self.arguments(request)
            value = OPERATIONS[request["name"]](*args)
        elif op == "helper":
            args, kwargs = self.arguments(request)
            value = adaptors.HELPERS[request["name"]](*args, **kwargs)
        else:
            raise ValueError(f"unknown request {op!r}")
        self.objects[request["id"]] = value
        return None

    def do_import(self, request: dict[str, Any]) -> dict[str, Any]:
        """The first of `paths` that exists under tinytorch; a path that is absent moves on to the next edition's,
        a module that exists but fails to import is reported with its own error (as the plain form's Resolver)."""
        errors = []
        for path in request["paths"]:
            full = f"tinytorch.{path}"
            try:
                module = importlib.import_module(full)
            except ModuleNotFoundError as error:
                if error.name and full.startswith(error.name):
                    errors.append(f"No module named '{full}'")
                    continue
                return {"r": "import", "error": f"{type(error).__name__}: {error}"[:2000]}
            except BaseException as error:
                return {"r": "import", "error": f"{type(error).__name__}: {error}"[:2000]}
            self.objects[request["id"]] = module
            return {"r": "import", "path": path, "has": [hasattr(module, n) for n in request.get("names", [])]}
        return {"r": "import", "error": "; ".join(errors), "missing": True}

    def failed(self, error: BaseException) -> dict[str, Any]:
        frames = []
        for frame, line in list(traceback.walk_tb(error.__traceback__))[-MAX_FRAMES:]:
            code = frame.f_code
            frames.append({"file": code.co_filename, "line": line,
                           "function": getattr(code, "co_qualname", code.co_name),
                           "code": linecache.getline(code.co_filename, line).strip()[:200],
                           "args": protocol.parameter_names(code)})
        return {"type": type(error).__name__, "message": str(error)[:2000], "frames": frames, "op": self.count}

    def run(self, requests_fd: int) -> None:
        threading.Thread(target=self.watch, daemon=True).start()
        with os.fdopen(requests_fd, "rb", buffering=1 << 16) as requests:
            for line in requests:
                self.count += 1
                request = json.loads(line)
                answered = request["op"] in protocol.ANSWERED
                if self.failure is not None:
                    if answered:
                        self.write({"r": "error", "error": self.failure})
                        self.failure = None
                    continue  # the probe stopped at the failed call: nothing after it runs
                self.started = time.monotonic()
                try:
                    answer = self.handle(request)
                    if answered:
                        self.write(answer or {"r": "ok"})
                except BaseException as error:
                    if answered:
                        self.write({"r": "error", "error": self.failed(error)})
                    else:
                        self.failure = self.failed(error)
                finally:
                    self.started = None

    def watch(self) -> None:
        """Say once per request when it has been running for a while (a daemon thread; advisory only)."""
        told = 0
        while True:
            time.sleep(0.25)
            started, count = self.started, self.count
            if started is not None and count != told and time.monotonic() - started > BUSY_AFTER_S:
                told = count
                try:
                    self.write({"r": "busy", "op": count})
                except OSError:
                    return


def serve(package_dir: str, requests_fd: int, answers_fd: int) -> None:
    """Run the server in this (forked) process until the harness closes the request stream."""
    sys.path.insert(0, package_dir)
    Server(answers_fd).run(requests_fd)
