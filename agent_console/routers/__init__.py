"""One router module per resource; each has ``router`` (pages) and ``api`` (JSON under /api)."""
