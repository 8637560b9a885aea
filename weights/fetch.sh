#!/usr/bin/env bash
# Fetches the reference model into this folder (see README.md). Needs the package built (npm ci does it).
set -euo pipefail
exec node "$(dirname "$0")/../dist/cli/main.js" pull smollm2
