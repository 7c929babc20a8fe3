"""What runs inside the student's sandbox, and nothing else: the supervisor (PID 1), the object server that holds
the student's objects, the containers and views it may build (adaptors), and the wire format (protocol).

This folder alone is mounted into the sandbox (at /grader/boundary). It imports only the standard library and
numpy. Probes, checks, challenges, the reference and the rubric stay on the host.
"""
