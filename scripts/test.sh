#!/usr/bin/env bash
# The whole test suite: installs moto[server] into .venv if needed, starts moto_server on
# 127.0.0.1, runs every test (those that need moto are #[ignore]d in a plain `cargo test`),
# and stops moto by its PID. Extra arguments go to cargo test (a filter, for example).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: a test double must not change under the tests. (With moto 5.2.6, released on
# 2026-12-05, the two Athena tests through moto fail; 5.2.5 is the version they were written
# against.)
moto_version=5.2.5
if ! .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('moto') != '$moto_version')" 2>/dev/null; then
  echo "== installing moto[server]==$moto_version into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet "moto[server]==$moto_version"
fi

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" > .venv/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    echo "moto_server did not start:" >&2
    cat .venv/moto.log >&2
    exit 1
  fi
  sleep 0.2
done
export KMS_DOCTOR_MOTO_URL="http://127.0.0.1:$port"
echo "== moto_server on $KMS_DOCTOR_MOTO_URL (pid $moto_pid)"

echo "== cargo test --locked -- --include-ignored"
cargo test --locked "$@" -- --include-ignored
