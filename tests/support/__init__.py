"""Shared test helpers (PostgreSQL server, world builders)."""
