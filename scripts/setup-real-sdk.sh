#!/bin/sh
# Create the virtualenv the real-SDK test (tests/real_sdk.rs) runs: the real azure-identity
# and openai Python packages, talking to `aoai-doctor lab serve` on loopback.
# Needs the package registry, so run it outside the sandbox:  sh scripts/setup-real-sdk.sh
set -eu
cd "$(dirname "$0")/.."
VENV=target/real-sdk-venv
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p target
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# Versions measured in shared/REAL-CLIENTS.md: azure-identity 1.27.x, openai 3.x.
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "azure-identity==1.27.0" "openai==3.57.0"
"$VENV/bin/python" -c 'import azure.identity, openai; print("real-sdk venv ready:", "azure-identity", azure.identity.__version__ if hasattr(azure.identity, "__version__") else "?", "openai", openai.__version__)'
