"""The benchmark's floor, ``bench/agi_echo.py``: a bare FastAGI server that replays recorded
command lines, driven by the same simulated Asterisk channel as the product."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ivr.transports.terminal import AsteriskCall, ScriptedCaller

ROOT = Path(__file__).resolve().parents[3]


def test_the_echo_server_replays_the_script_and_measures_each_gap(tmp_path):
    script = tmp_path / "script.txt"
    script.write_text('ANSWER\nGET DATA "silence/1" 3000 4\n'
                      'SET VARIABLE REG_IVR_DONE "1"\nHANGUP\n', encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    echo = subprocess.Popen([sys.executable, "-m", "bench.agi_echo", "--script", str(script),
                             "--port", "0"], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout is not None and echo.stdin is not None
        _, host, port, _pid = echo.stdout.readline().split()
        transcript = AsteriskCall(host, int(port), caller=ScriptedCaller(["12"]),
                                  idle_timeout=20.0).run()
        echo.stdin.write("stats\n")
        echo.stdin.flush()
        stats = json.loads(echo.stdout.readline()[len("STATS "):])
    finally:
        echo.kill()
        echo.wait()
    assert transcript.variables.get("REG_IVR_DONE") == "1"
    assert [e[3] for e in transcript.of("get_data")] == ["12"]
    assert stats["calls_started"] == 1
    # One gap per command: after the environment, then after each reply.
    assert [s[3] for s in stats["samples"]] == ["ENV", "ANSWER", 'GET DATA "silence/1" 3000 4',
                                                'SET VARIABLE REG_IVR_DONE "1"']
