"""The trusted side of the TinyTorch grader: intake, grading, scoring, diagnostics and the service."""
