"""Grade one submission: plan the probes, run them in a sandbox, judge each outside, score, explain."""
