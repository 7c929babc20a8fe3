"""LTI 1.3 Advantage, the tool side (docs/lms.md, "LTI 1.3"): platform registrations, the tool's keys, the OIDC
login and launch that sign a person in, and scores sent back through the Assignment and Grade Services."""
