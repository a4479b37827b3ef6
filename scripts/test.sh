#!/usr/bin/env bash
# The whole test suite: installs moto[server] into .venv if needed, starts moto_server on
# 127.0.0.1, runs every test (those that need moto are #[ignore]d in a plain `cargo test`),
# and stops moto by its PID. Extra arguments go to cargo test (a filter, for example).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/moto_server ]; then
  echo "== installing moto[server] into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet 'moto[server]'
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
