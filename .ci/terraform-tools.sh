#!/usr/bin/env bash
# Static checks of the terraform that need no provider download and no
# terraform registry (so `terraform init` and `validate` are not among them):
#
#   bash .ci/terraform-tools.sh tools   install what is missing (idempotent)
#   bash .ci/terraform-tools.sh check   terraform fmt, tflint, tfsec
#   bash .ci/terraform-tools.sh         both
#
# tflint and tfsec are built from source with the Go toolchain into
# ${XDG_CACHE_HOME:-$HOME/.cache}/webhooks/tools/bin, once per version: a
# throwaway module pins each version with `go get` (`go install pkg@version`
# needs the proxy's version listing, which not every proxy serves).
# The terraform-side checks the Go test cannot make (syntax, formatting,
# tflint's recommended rules, tfsec's security rules) live here; the
# contracts between terraform and code live in terraform/terraform_test.go.
set -euo pipefail
cd "$(dirname "$0")/.."

TFLINT_VERSION=v0.64.0
TFSEC_VERSION=v1.26.0
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/webhooks/tools"
BIN="$TOOLS/bin"

say() { printf '%s\n' "$*" >&2; }

# build NAME MODULE VERSION PACKAGE: builds $BIN/NAME-VERSION unless present.
build() {
  local name=$1 module=$2 version=$3 pkg=$4
  local out="$BIN/$name-$version"
  if [ -x "$out" ]; then
    return 0
  fi
  say "building $name $version (first run only)"
  local work="$TOOLS/src/$name-$version"
  rm -rf "$work"
  mkdir -p "$work" "$BIN"
  (
    cd "$work"
    export GOFLAGS=-mod=mod GOWORK=off
    go mod init tmp >/dev/null 2>&1
    go get "$module@$version"
    CGO_ENABLED=0 go build -trimpath -o "$out.tmp" "$pkg"
  )
  mv "$out.tmp" "$out"
}

tools() {
  if ! command -v terraform >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1 && apt-cache show terraform >/dev/null 2>&1; then
      say "installing terraform with apt-get"
      apt-get install -y terraform >/dev/null
    else
      say "terraform is not installed and no apt package provides it: install it from https://developer.hashicorp.com/terraform/install"
      return 1
    fi
  fi
  build tflint github.com/terraform-linters/tflint "$TFLINT_VERSION" github.com/terraform-linters/tflint
  build tfsec github.com/aquasecurity/tfsec "$TFSEC_VERSION" github.com/aquasecurity/tfsec/cmd/tfsec
}

check() {
  local failed=0
  # terraform reads ~/.terraformrc only to warn that it is missing.
  export TF_CLI_CONFIG_FILE=/dev/null
  say "-- terraform fmt ($(terraform version | head -n1))"
  if ! terraform fmt -check -recursive -diff terraform; then
    say "terraform fmt: run 'terraform fmt -recursive terraform'"
    failed=1
  fi

  say "-- tflint $TFLINT_VERSION (bundled terraform ruleset, terraform/.tflint.hcl)"
  # --chdir makes terraform/.tflint.hcl the configuration; the bundled
  # terraform plugin is built into the binary, so nothing is downloaded.
  if ! "$BIN/tflint-$TFLINT_VERSION" --chdir=terraform --format=compact; then
    failed=1
  fi

  # Every pattern on: a disabled pattern's resources have count 0 and
  # tfsec would not look at them.
  local vars
  vars=$(mktemp --suffix=.tfvars)
  printf '%s\n' 'project_id = "tfsec-check"' 'enable_store = true' 'enable_relay = true' 'enable_trigger = true' >"$vars"
  say "-- tfsec $TFSEC_VERSION, every pattern enabled (accepted findings carry #tfsec:ignore with the reason)"
  if ! "$BIN/tfsec-$TFSEC_VERSION" terraform --no-colour --no-module-downloads --concise-output \
    --minimum-severity LOW --tfvars-file "$vars"; then
    failed=1
  fi
  rm -f "$vars"
  return "$failed"
}

case "${1:-all}" in
  tools) tools ;;
  check) check ;;
  all) tools && check ;;
  *) say "usage: $0 [tools|check|all]"; exit 2 ;;
esac
