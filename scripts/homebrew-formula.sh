#!/usr/bin/env bash
# Fills in the Homebrew formula template (packaging/homebrew/kms-doctor.rb.in) with a release's
# version and the SHA-256 of each archive (the .sha256 files scripts/package.sh wrote), and prints
# the formula. Fails if an archive's checksum is missing: a formula never points at nothing.
#   scripts/homebrew-formula.sh VERSION DIST_DIR > kms-doctor.rb
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: homebrew-formula.sh VERSION DIST_DIR}
dist=${2:?usage: homebrew-formula.sh VERSION DIST_DIR}
formula=$(sed "s/@VERSION@/${version#v}/g" packaging/homebrew/kms-doctor.rb.in)
for target in aarch64-apple-darwin x86_64-apple-darwin aarch64-unknown-linux-musl x86_64-unknown-linux-musl; do
  sums="$dist/kms-doctor-$target.tar.gz.sha256"
  [ -f "$sums" ] || { echo "homebrew-formula.sh: no $sums" >&2; exit 1; }
  sum=$(cut -d' ' -f1 < "$sums")
  [[ "$sum" =~ ^[0-9a-f]{64}$ ]] || { echo "homebrew-formula.sh: $sums holds no SHA-256" >&2; exit 1; }
  formula=${formula//"@SHA256_${target}@"/$sum}
done
if grep -q '@[A-Z0-9_a-z-]*@' <<<"$formula"; then
  echo "homebrew-formula.sh: placeholders left in the formula" >&2
  exit 1
fi
printf '%s\n' "$formula"
