#!/usr/bin/env bash
# Set up a fresh Debian/Ubuntu machine for Registratura: Debian packages (when root),
# a virtualenv in .venv and the Python packages.  Safe to run again; it skips what is there.
#   scripts/setup.sh            what the product needs to run
#   scripts/setup.sh --test     plus what the test suite needs (PostgreSQL, ...)
#   scripts/setup.sh --bench    plus what the benchmarks need (the test tools, matplotlib, py-spy)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
want_bench=0
case "${1:-}" in
  --test) want_test=1 ;;
  --bench) want_test=1; want_bench=1 ;;
esac

# python3-venv: stock Debian 12 (cloud) images ship python3 without ensurepip, and
# "python3 -m venv" then fails.  espeak-ng speaks the prompts (pyttsx3 drives libespeak-ng);
# sox is used by speech tooling.
debs=(python3-venv espeak-ng libespeak-ng1 sox)
if [ "$want_test" = 1 ]; then
  # A real PostgreSQL server for the tests; tmux for the terminal-phone test.
  debs+=(postgresql postgresql-contrib tmux chromium chromium-driver)
fi

missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine often runs unattended-upgrades at boot: wait for the dpkg lock (up to
    # 5 minutes) instead of failing at once.
    apt_opts=(-o DPkg::Lock::Timeout=300)
    apt-get "${apt_opts[@]}" update -qq
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "Missing Debian packages (run as root or install them): ${missing[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
# A .venv without pip is what a failed "python3 -m venv" (no python3-venv) leaves behind:
# make it again rather than fail later in pip.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  if ! "$PY" -m venv --clear .venv; then
    rm -rf .venv
    echo "Could not create the virtualenv .venv: install python3-venv" \
         "(as root: apt-get install python3-venv) and run this again." >&2
    exit 1
  fi
fi
# shellcheck disable=SC1091
. .venv/bin/activate
python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
if [ "$want_bench" = 1 ]; then
  python -m pip install -q --disable-pip-version-check -e ".[test,bench]"
elif [ "$want_test" = 1 ]; then
  python -m pip install -q --disable-pip-version-check -e ".[test]"
else
  python -m pip install -q --disable-pip-version-check -e .
fi
echo "Setup done: . .venv/bin/activate"
