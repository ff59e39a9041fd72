#!/bin/sh
# Create the virtualenv the real-SDK tests (tests/real_sdk.rs, tests/real_sdk_v1.rs) run: the real
# azure-identity, openai and azure-ai-projects Python packages, talking to `aoai-doctor lab serve` on loopback.
# Needs the package registry, so run it outside the sandbox:  sh scripts/setup-real-sdk.sh
set -eu
cd "$(dirname "$0")/.."
VENV=target/real-sdk-venv
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p target
  "$PY" -m venv "$VENV"
fi
# The versions the tests were measured with: azure-identity 1.27.x, openai 3.x, and the
# Foundry SDK azure-ai-projects 2.x (its get_openai_client() drives a lab project endpoint).
# A stamp skips the registry when the pinned versions are already installed.
STAMP="$VENV/.ready-azure-identity-1.27.0-openai-3.57.0-azure-ai-projects-2.10.0"
if [ ! -f "$STAMP" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "azure-identity==1.27.0" "openai==3.57.0" "azure-ai-projects==2.10.0"
  touch "$STAMP"
fi
"$VENV/bin/python" -c 'import azure.identity, openai; import azure.ai.projects; print("real-sdk venv ready:", "azure-identity", azure.identity.__version__ if hasattr(azure.identity, "__version__") else "?", "openai", openai.__version__, "azure-ai-projects", azure.ai.projects.__version__)'

# The JavaScript SDKs (versions measured in REAL-CLIENTS.md; newer releases need Node 22).
# npm is looked for where tests/real_sdk.rs looks for node: PATH, then the usual installs.
NPM=$(command -v npm 2>/dev/null || true)
if [ -z "$NPM" ]; then
  for d in /usr/local/bin /usr/bin /opt/homebrew/bin "${NVM_DIR:-$HOME/.nvm}"/versions/node/*/bin /opt/*/bin; do
    if [ -z "$NPM" ] && [ -x "$d/npm" ]; then NPM="$d/npm"; fi
  done
fi
if [ -z "$NPM" ]; then
  echo "ERROR: npm (Node.js) is not installed: the JavaScript real-SDK test needs it." >&2
  echo "ERROR: install Node.js, or set AOAI_DOCTOR_SKIP_REAL_SDK=1 to skip the real-SDK tests." >&2
  exit 1
fi
NODE_DIR=target/real-sdk-node
mkdir -p "$NODE_DIR"
[ -f "$NODE_DIR/package.json" ] || echo '{"name":"real-sdk","private":true,"type":"module"}' > "$NODE_DIR/package.json"
NODE_STAMP="$NODE_DIR/.ready-identity-4.13.1-openai-6.49.0"
if [ ! -f "$NODE_STAMP" ]; then
  PATH="$(dirname "$NPM"):$PATH" "$NPM" install --silent --no-audit --no-fund --prefix "$NODE_DIR" "@azure/identity@4.13.1" "openai@6.49.0"
  touch "$NODE_STAMP"
fi
echo "real-sdk node_modules ready: $NODE_DIR"
