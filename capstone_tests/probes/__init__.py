"""Probes: run inside the sandbox with the student's tinytorch; they return artefacts and assert nothing."""
