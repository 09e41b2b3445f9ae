#!/usr/bin/env bash
# scripts/demo.sh - what `make demo` shows: the embedded catalog starting on
# first use, the example data copied into a local "bucket" folder and listed,
# and the catalog's databases. Later features extend this walk-through.
set -euo pipefail
cd "$(dirname "$0")/.."
SLUICE=${SLUICE_BIN:-./sluice}
export SLUICE_HOME=${SLUICE_HOME:-$PWD/.sluice}
BUCKET=$SLUICE_HOME/bucket

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ -n "${SLUICE_CATALOG:-}" ]; then
    step "catalog: SLUICE_CATALOG is set, using that PostgreSQL"
else
    step "catalog: embedded PostgreSQL under $SLUICE_HOME (created and started on first use)"
    "$SLUICE" embedded start
fi

step "copy the example data into a local bucket folder: $BUCKET"
"$SLUICE" cp --recursive --quiet examples/data "$BUCKET/lake"
"$SLUICE" ls --recursive "$BUCKET/lake/"

step "the same folder, one level at a time (folders as PRE, like aws s3 ls)"
"$SLUICE" ls "$BUCKET/lake/sales/"

step "catalog databases"
"$SLUICE" catalog create-database demo --description "sluice demo lake" 2>/dev/null || true
"$SLUICE" catalog databases
"$SLUICE" catalog databases --json

printf '\nDone. Stop the embedded PostgreSQL with: %s embedded stop\n' "$SLUICE"
