#!/bin/sh
# Installs kms-doctor from its GitHub release: the archive for this OS and architecture, checked
# against its SHA-256, the binary put in ~/.local/bin (or --to DIR).
#
#   curl -fsSL https://github.com/kms-doctor/kms-doctor/releases/latest/download/install.sh | sh
#   sh install.sh [--to DIR] [--version X.Y.Z]
#
# Environment: KMS_DOCTOR_BASE_URL (where the releases are, for mirrors and tests),
# KMS_DOCTOR_OS and KMS_DOCTOR_ARCH (instead of `uname`).
set -eu

base=${KMS_DOCTOR_BASE_URL:-https://github.com/kms-doctor/kms-doctor/releases}
to="${HOME:?}/.local/bin"
version=""

say() { printf 'install.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --to) [ $# -ge 2 ] || die "--to needs a directory"; to=$2; shift 2 ;;
    --version) [ $# -ge 2 ] || die "--version needs a version"; version=${2#v}; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" 2>/dev/null || true; exit 0 ;;
    *) die "unknown argument: $1 (try --to DIR, --version X.Y.Z)" ;;
  esac
done

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

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --proto '=https,http' -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
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
[ -n "$want" ] && [ "$want" = "$got" ] || die "checksum mismatch for $asset: expected $want, got $got. Nothing was installed."

tar -xzf "$work/$asset" -C "$work"
binary=$(find "$work" -mindepth 2 -maxdepth 2 -type f -name kms-doctor | head -n1)
[ -n "$binary" ] || die "the archive has no kms-doctor binary"
mkdir -p "$to"
# Into place in one step: a copy beside it, then a rename.
cp "$binary" "$to/.kms-doctor.new"
chmod 755 "$to/.kms-doctor.new"
mv -f "$to/.kms-doctor.new" "$to/kms-doctor"
say "installed $("$to/kms-doctor" --version 2>/dev/null || echo kms-doctor) to $to/kms-doctor"
case ":$PATH:" in
  *":$to:"*) ;;
  *) say "$to is not on your PATH: add it, for example: export PATH=\"$to:\$PATH\"" ;;
esac
say "man pages and shell completions are in the archive: $url"
