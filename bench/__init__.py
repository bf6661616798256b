"""Benchmarks of Registratura against the non-functional targets of DESIGN.md.

Run one with ``python -m bench NAME [--db sqlite|postgres|both] [--quick]``; each prints a
table and writes ``bench/results/NAME-<db>.json`` (and a PNG where a curve says more, when
matplotlib is installed).  Benchmarks are never run in CI; see ``bench/README.md``.
"""
