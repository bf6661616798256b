"""Fault drills (see conftest.py)."""
