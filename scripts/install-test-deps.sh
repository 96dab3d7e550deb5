#!/usr/bin/env bash
# Installs what the test suites need on a fresh machine: moto (the AWS emulator) from PyPI, SoftHSM2
# and OpenSC from Debian, and Terraform + OpenTofu built from the Go module proxy
# (scripts/install-terraform.sh). Idempotent:
# it does nothing for what is already there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

MOTO_VERSION=${MOTO_VERSION:-5.2.1}
if ! command -v moto_server >/dev/null 2>&1 || ! python3 -c "import moto, sys; sys.exit(0 if moto.__version__ == '${MOTO_VERSION}' else 1)" 2>/dev/null; then
  echo "installing moto[server]==${MOTO_VERSION}"
  python3 -m pip install --quiet --disable-pip-version-check "moto[server]==${MOTO_VERSION}"
fi
command -v moto_server >/dev/null || { echo "moto_server is not on PATH after install" >&2; exit 1; }

# zsh for the shell completion tests, systemd-analyze to verify the generated unit.
missing=""
command -v zsh >/dev/null 2>&1 || missing="$missing zsh"
command -v systemd-analyze >/dev/null 2>&1 || missing="$missing systemd"
if [ -n "$missing" ]; then
  echo "installing$missing"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; fi
fi

# PostgreSQL server binaries, for the PostgreSQL store tests (each test starts its own server).
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "installing postgresql"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; fi
fi

# SoftHSM2 (a PKCS#11 token in a directory) and OpenSC's pkcs11-tool, for the CA key tests
# (test/ca-keys/pkcs11-signer.test.ts); pkcs11js compiles with the build tools npm's node-gyp uses.
missing=""
command -v softhsm2-util >/dev/null 2>&1 || missing="$missing softhsm2"
command -v pkcs11-tool >/dev/null 2>&1 || missing="$missing opensc"
if [ -n "$missing" ]; then
  echo "installing$missing"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; fi
fi

if [ -x "$here/install-terraform.sh" ]; then
  "$here/install-terraform.sh"
fi

# Debian's Chromium, for the web console's browser suite (playwright-core drives it; a browser
# download of Playwright's own cannot work on these machines).
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi
fi
