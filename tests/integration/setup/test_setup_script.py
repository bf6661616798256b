"""scripts/setup.sh on a stock Debian 12 image: python3-venv, the dpkg lock, a half-made venv.

The script runs for real (bash) in a copy of the repo's scripts folder; apt-get, dpkg-query,
id and the Python interpreter are small stand-ins on PATH that log how they were called, so
nothing is installed and no root is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

VENV_PYTHON = """#!/bin/sh
# the interpreter inside .venv: pip works unless this venv was made without ensurepip
if [ "$1 $2" = "-m pip" ]; then
  [ -f "$(dirname "$0")/no-pip" ] && { echo "No module named pip" >&2; exit 1; }
  echo "venv-pip $*" >> "$STUB_LOG"; exit 0
fi
exit 0
"""

SYSTEM_PYTHON = """#!/bin/sh
# python3 -m venv [--clear] .venv ; STUB_ENSUREPIP=no behaves like Debian without python3-venv
echo "python3 $*" >> "$STUB_LOG"
dir=$(eval echo \\${$#})
mkdir -p "$dir/bin"
cp "$STUB_DIR/venv-python" "$dir/bin/python"
printf 'VIRTUAL_ENV=%s\\nPATH="%s/bin:$PATH"\\nexport VIRTUAL_ENV PATH\\n' \\
  "$PWD/$dir" "$PWD/$dir" > "$dir/bin/activate"
rm -f "$dir/bin/no-pip"
if [ "$STUB_ENSUREPIP" = no ]; then
  touch "$dir/bin/no-pip"
  echo "The virtual environment was not created successfully because ensurepip is not" \\
       "available.  On Debian/Ubuntu systems, you need to install the python3-venv package" >&2
  exit 1
fi
exit 0
"""


def _sandbox(tmp_path: Path, *, uid: int) -> tuple[Path, dict[str, str]]:
    work = tmp_path / "repo"
    (work / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", work / "scripts" / "setup.sh")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    scripts = {
        "apt-get": 'echo "apt-get $*" >> "$STUB_LOG"',
        "dpkg-query": "exit 1",  # nothing is installed
        "id": f'[ "$1" = "-u" ] && echo {uid} || /usr/bin/id "$@"',
        "python3": SYSTEM_PYTHON.split("\n", 1)[1],
        "venv-python": VENV_PYTHON.split("\n", 1)[1],
    }
    for name, body in scripts.items():
        path = stubs / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(tmp_path), "STUB_DIR": str(stubs),
           "STUB_LOG": str(tmp_path / "calls.log"), "PYTHON": str(stubs / "python3")}
    return work, env


def _run(work: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/setup.sh"], cwd=work, env=env, text=True,
                          capture_output=True, timeout=60, check=False)


def _log(env: dict[str, str]) -> list[str]:
    path = Path(env["STUB_LOG"])
    return path.read_text().splitlines() if path.exists() else []


def test_as_root_installs_python3_venv_and_waits_for_the_dpkg_lock(tmp_path):
    work, env = _sandbox(tmp_path, uid=0)
    result = _run(work, env)
    assert result.returncode == 0, result.stderr
    apt = [line for line in _log(env) if line.startswith("apt-get")]
    assert len(apt) == 2 and all("-o DPkg::Lock::Timeout=300" in line for line in apt), apt
    assert "update" in apt[0] and "install" in apt[1] and "python3-venv" in apt[1].split()


def test_without_python3_venv_says_what_to_install_and_leaves_no_broken_venv(tmp_path):
    work, env = _sandbox(tmp_path, uid=1000)
    result = _run(work, {**env, "STUB_ENSUREPIP": "no"})
    assert result.returncode == 1
    assert "install python3-venv" in result.stderr
    assert "python3-venv" in result.stderr.split("Missing Debian packages", 1)[1]
    assert not (work / ".venv").exists()


def test_a_venv_left_without_pip_is_made_again(tmp_path):
    work, env = _sandbox(tmp_path, uid=1000)
    assert _run(work, {**env, "STUB_ENSUREPIP": "no"}).returncode != 0
    # The old script kept such a half-made .venv; simulate one left behind.
    (work / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(env["STUB_DIR"]) / "venv-python", work / ".venv" / "bin" / "python")
    (work / ".venv" / "bin" / "no-pip").touch()
    os.chmod(work / ".venv" / "bin" / "python", 0o755)
    result = _run(work, env)  # python3-venv is installed now
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("venv-pip -m pip install") for line in _log(env))
    assert "python3 -m venv --clear .venv" in _log(env)
