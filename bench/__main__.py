"""``python -m bench NAME [--db sqlite|postgres|both] [--quick] [options]``."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

BENCHES = {
    "calls": ("bench.calls",
              "concurrent FastAGI booking calls: step latency, RSS, double bookings"),
    "contention": ("bench.contention", "many threads booking one slot / ten slots"),
    "search": ("bench.search", "nearest-free-slot queries in a 500-doctor clinic"),
    "slots": ("bench.slots", "slot generation and schedule changes for 500 doctors"),
    "caller_time": ("bench.caller_time", "seconds a caller spends per scenario (real TTS)"),
    "tts": ("bench.tts", "prompt render time, cold and warm cache"),
    "import": ("bench.import_clinic",
               "import 200,000 patients + 500 doctors from XLSX and CSV: rows/s, RSS, re-import"),
    "speech_stream": ("bench.speech_stream",
                      "concurrent streamed calls over AudioSocket: barge-in, end of turn, CPU"),
    "fhir": ("bench.fhir", "the FHIR API's cost over the use cases it calls (search, $book)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = ", ".join(BENCHES)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHES:
        print("usage: python -m bench NAME [--db sqlite|postgres|both] [--quick] [options]\n")
        for name, (_, what) in BENCHES.items():
            print(f"  {name:<12} {what}")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nunknown benchmark {argv[0]!r} (known: {names})", file=sys.stderr)
            return 2
        return 0
    name = argv.pop(0)
    module = importlib.import_module(BENCHES[name][0])
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}",
                                     description=BENCHES[name][1])
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"),
                        default=getattr(module, "DEFAULT_DB", "both"),
                        help="database backend(s) to run on")
    parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    parser.add_argument("--pg-url", default=None,
                        help="an existing PostgreSQL server (any database URL on it, "
                             "postgresql+psycopg://...); default: start a throwaway one")
    parser.add_argument("--log-level", default="WARNING", help="log level of the benchmark")
    if hasattr(module, "add_arguments"):
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.WARNING),
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
