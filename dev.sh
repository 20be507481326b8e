#!/bin/sh
# Bootstrap .venv with the stock venv and pip (only Python 3.11+ needed), then run the demo, the tests or the benchmarks.
set -eu
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/sluice ] || [ pyproject.toml -nt .venv/.installed ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  touch .venv/.installed
fi
command=${1:-}
[ $# -gt 0 ] && shift
case $command in
  demo) exec .venv/bin/sluice demo "$@" ;;
  test)
    .venv/bin/ruff check .
    .venv/bin/mypy   # strict, config in pyproject.toml
    exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@" ;;
  bench) exec .venv/bin/python bench/run_all.py "$@" ;;
  *) echo "usage: ./dev.sh demo [--no-console] | test [pytest args] | bench" >&2; exit 2 ;;
esac
