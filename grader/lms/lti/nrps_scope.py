"""The Names and Role Provisioning Services scope (a constant of its own: the config page names it)."""

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
