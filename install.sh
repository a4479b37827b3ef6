#!/bin/sh
# Installs kms-doctor from its GitHub release: the archive for this OS and architecture, checked
# against its SHA-256, the binary put in ~/.local/bin (or --to DIR).
#
#   curl -fsSL https://github.com/kms-doctor/kms-doctor/releases/latest/download/install.sh | sh
#   sh install.sh [--to DIR] [--version X.Y.Z]
#
# Environment: KMS_DOCTOR_BASE_URL (where the releases are, for mirrors and tests; HTTPS only,
# unless KMS_DOCTOR_ALLOW_HTTP=1 for a local test server), KMS_DOCTOR_OS and KMS_DOCTOR_ARCH
# (instead of `uname`).
#
# The SHA-256 beside the archive catches a corrupt download, not a hostile mirror (it comes from
# the same server). With the GitHub CLI (`gh`) installed, the archive's build provenance
# attestation is verified too (`gh attestation verify`): that is what proves it was built by
# kms-doctor's release workflow, wherever it was downloaded from.
set -eu

base=${KMS_DOCTOR_BASE_URL:-https://github.com/kms-doctor/kms-doctor/releases}
to="${HOME:?}/.local/bin"
version=""

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; say "nothing was installed."; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --to) [ $# -ge 2 ] || die "--to needs a directory"; to=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=${2#v}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown argument: $1 (try --to DIR, --version X.Y.Z)" ;;
  esac
done

# A version is X.Y.Z, optionally with a pre-release suffix: anything else (a slash, `..`, a
# newline) could lead the download out of the releases path.
if [ -n "$version" ]; then
  case "$version" in
    *[!0-9A-Za-z.-]*) die "--version must look like 1.2.3 (or 1.2.3-rc.1), not '$version'" ;;
  esac
  printf '%s' "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$' ||
    die "--version must look like 1.2.3 (or 1.2.3-rc.1), not '$version'"
fi

os=${KMS_DOCTOR_OS:-$(uname -s)}
arch=${KMS_DOCTOR_ARCH:-$(uname -m)}
case "$arch" in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  *) arch="unknown:$arch" ;;
esac
case "$os" in
  Linux|linux) target="$arch-unknown-linux-musl" ;;
  Darwin|darwin|macos) target="$arch-apple-darwin" ;;
  *) target="unknown" ;;
esac
case "$target" in
  unknown*|*unknown:*)
    die "no kms-doctor release for $os on ${arch#unknown:}: on Windows download the .zip from $base, elsewhere build it with \`cargo install --locked --git https://github.com/kms-doctor/kms-doctor\`" ;;
esac

asset="kms-doctor-$target.tar.gz"
if [ -n "$version" ]; then
  url="$base/download/v$version/$asset"
else
  url="$base/latest/download/$asset"
fi

# HTTPS only, redirects included; plain HTTP only for a local test server that asks for it.
protocols='=https'
case "$base" in
  https://*) ;;
  http://*)
    [ "${KMS_DOCTOR_ALLOW_HTTP:-}" = 1 ] || die "refusing plain HTTP ($base): a download must come over HTTPS"
    protocols='=https,http' ;;
  *) die "KMS_DOCTOR_BASE_URL must be an https:// URL, not $base" ;;
esac
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --proto "$protocols" --proto-redir "$protocols" -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  if [ "$protocols" = '=https' ]; then
    fetch() { wget -q --https-only -O "$2" "$1"; }
  else
    fetch() { wget -q -O "$2" "$1"; }
  fi
else
  die "neither curl nor wget is installed"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d' ' -f1; }
else
  die "neither sha256sum nor shasum is installed: cannot check the download"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

say "downloading $url"
fetch "$url" "$work/$asset" || die "cannot download $url"
fetch "$url.sha256" "$work/$asset.sha256" || die "cannot download $url.sha256"
want=$(cut -d' ' -f1 < "$work/$asset.sha256")
got=$(sha256 "$work/$asset")
[ -n "$want" ] && [ "$want" = "$got" ] || die "checksum mismatch for $asset: expected $want, got $got"
if command -v gh >/dev/null 2>&1 && [ "${KMS_DOCTOR_SKIP_ATTESTATION:-}" != 1 ]; then
  gh attestation verify "$work/$asset" --repo kms-doctor/kms-doctor >/dev/null \
    || die "the build provenance attestation of $asset does not verify (gh attestation verify)"
  say "build provenance verified (gh attestation verify)"
fi

tar -xzf "$work/$asset" -C "$work" || die "cannot unpack $asset (tar failed)"
binary=$(find "$work" -mindepth 2 -maxdepth 2 -type f -name kms-doctor | head -n1)
[ -n "$binary" ] || die "the archive has no kms-doctor binary"
mkdir -p "$to" || die "cannot create $to"
# Into place in one step: a new file of an unpredictable name beside it (mktemp creates it, so
# no link planted there is followed), then a rename.
new=$(mktemp "$to/.kms-doctor.XXXXXX") || die "cannot write in $to"
trap 'rm -rf "$work"; rm -f "$new"' EXIT INT TERM
cat "$binary" > "$new" || die "cannot write $new"
chmod 755 "$new"
mv -f "$new" "$to/kms-doctor" || die "cannot put kms-doctor in $to"
say "installed $("$to/kms-doctor" --version 2>/dev/null || echo kms-doctor) to $to/kms-doctor"
case ":$PATH:" in
  *":$to:"*) ;;
  *) say "$to is not on your PATH: add it, for example: export PATH=\"$to:\$PATH\"" ;;
esac
say "man pages and shell completions are in the archive: $url"
