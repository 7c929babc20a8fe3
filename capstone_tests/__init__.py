"""The graded suites. Each test is a probe (untrusted side) and a check (trusted side) sharing a name."""
