#!/usr/bin/env bash
# The herald action's install step (action.yml): builds herald in the
# action's own checkout and puts a `herald` command on the PATH of the steps
# that follow ($GITHUB_PATH). A checkout that already has its dependencies
# and its build (a cached or local one) is used as it is.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci runs `prepare`, which builds dist/.
  npm ci --no-audit --no-fund
elif [ ! -f dist/cli/main.js ]; then
  npm run build
fi

bin="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/herald-bin"
mkdir -p "$bin"
# %q quotes the path for the shell, whatever characters the runner's path holds.
printf '#!/usr/bin/env bash\nexec node %q "$@"\n' "$root/dist/cli/main.js" > "$bin/herald"
chmod +x "$bin/herald"

if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin" >> "$GITHUB_PATH"; fi
version="$("$bin/herald" --version)"
if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "version=$version" >> "$GITHUB_OUTPUT"; fi
echo "herald $version is on the PATH ($bin/herald)"
