#!/usr/bin/env bash
# Debian packages the tests need; run before `npm test` (npm's pretest) and by .ci/run.
# Installs only what is missing, so it is instant once they are there.
#   chromium (+ fonts-liberation, a recommends we skip, so screenshots have readable text): headless
#     browser for test/e2e/web-ui.test.ts, driven by playwright-core at /usr/bin/chromium
#   docker-compose: validates docker-compose.yml without an engine (test/e2e/docker-compose.test.ts)
#   nginx-light: the range-capable web server URL recipient sources are tested against (dev/nginx.ts)
#   postgresql-15: scratch clusters (dev/scratch-postgres.ts) for PostgreSQL recipient sources and
#     the production-topology lane's Temporal server
set -euo pipefail

REQUIRED_DEBS=(chromium fonts-liberation docker-compose nginx-light postgresql-15)

missing=()
for pkg in "${REQUIRED_DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "the tests need these Debian packages: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages the tests need: ${missing[*]}" >&2
"${sudo[@]}" apt-get update >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}" >&2
