#!/usr/bin/env bash
# Builds the BigQuery emulator (github.com/goccy/bigquery-emulator) that the
# Store tests run against, and prints the binary's path:
#
#   bash .ci/bigquery-emulator.sh        build once, print the path
#
# Idempotent: the binary is built once per version into
# ${XDG_CACHE_HOME:-$HOME/.cache}/webhooks/bigquery-emulator-$VERSION/bin and
# reused afterwards, which is where shared/testenv looks for it (or set
# BIGQUERY_EMULATOR_BIN). The emulator embeds go-zetasql (cgo, C++), so it
# needs clang and its first build takes 10+ minutes on two cores. It is built
# in a throwaway module so that it never becomes a dependency of ours: the
# function packages must keep building with CGO_ENABLED=0.
set -euo pipefail

VERSION=v0.6.6
DIR="${XDG_CACHE_HOME:-$HOME/.cache}/webhooks/bigquery-emulator-$VERSION"
BIN="$DIR/bin/bigquery-emulator"

say() { printf '%s\n' "$*" >&2; }

if [ -x "$BIN" ]; then
  printf '%s\n' "$BIN"
  exit 0
fi

if ! command -v clang >/dev/null 2>&1 || ! command -v clang++ >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    say "installing clang with apt-get (go-zetasql needs a C++ compiler)"
    apt-get update >/dev/null
    apt-get install -y clang >/dev/null
  else
    say "clang is missing and apt-get is not available: install clang, then rerun"
    exit 1
  fi
fi

say "building bigquery-emulator $VERSION into $DIR (first run only, 10+ minutes)"
rm -rf "$DIR/src"
mkdir -p "$DIR/src" "$DIR/bin"
(
  cd "$DIR/src"
  export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=1 CC=clang CXX=clang++
  go mod init tmp >/dev/null 2>&1
  go get "github.com/goccy/bigquery-emulator@$VERSION"
  go build -trimpath -o "$BIN.tmp" github.com/goccy/bigquery-emulator/cmd/bigquery-emulator
)
mv "$BIN.tmp" "$BIN"
printf '%s\n' "$BIN"
