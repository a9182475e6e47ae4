#!/usr/bin/env bash
# Installs everything sealpost's build, tests, demo and benchmarks need on a fresh Debian machine (run as root),
# then the npm packages. Safe to run again: Debian packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

# openssl: interop peer; openssh-server: real SFTP server for the drop tests; gnupg and age: benchmark baselines;
# softhsm2 and opensc: a PKCS#11 token; tmux: the PIN prompt test on a real terminal; time: peak RSS in benchmarks;
# postgresql: the relay's second database (the tests start their own throwaway cluster with its initdb, never the system's);
# chromium: the browser the web console's tests drive (playwright-core; no tool downloads a browser); fonts-noto-cjk:
# the console's Traditional Chinese text in that browser and its screenshots.
debs=(openssl openssh-server openssh-client gnupg age softhsm2 opensc tmux time postgresql chromium fonts-noto-cjk)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install: Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci runs the root "prepare" script, which builds every workspace (tsc --build) and the web console (vite build).
# playwright-core never downloads a browser by itself; this keeps any of its helpers from trying.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm ci --no-audit --no-fund
