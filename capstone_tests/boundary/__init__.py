"""The trust boundary between the grader and a student's code (docs/architecture.md, "The trust boundary").

- `inside/`: the only code that runs in the student's sandbox: supervisor (PID 1), object server, adaptors, and
  the wire format (`inside/protocol.py`, where every message shape is spelled).
- `session.py`: the harness's end of the stream: links to a supervisor, tests, channels, answers as untrusted data.
- `proxy.py`: proxies that let probes drive the student's objects as if they were local.
"""
