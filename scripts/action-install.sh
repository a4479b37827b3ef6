#!/usr/bin/env bash
# The GitHub Action's install step: the release archive of this checkout's version for the
# runner's platform, checked against its SHA-256 by install.sh, in seconds; a build from source
# (about 5 minutes) only when no release matches (a commit between releases, an unusual
# platform). Either way the binary's directory is added to GITHUB_PATH.
#
#   scripts/action-install.sh ACTION_PATH DEST
#
# Environment: KMS_DOCTOR_BASE_URL, KMS_DOCTOR_OS, KMS_DOCTOR_ARCH as install.sh reads them.
set -euo pipefail

action_path=${1:?the action checkout}
dest=${2:?where to install}

version=$(sed -n 's/^version = "\([^"]*\)"$/\1/p' "$action_path/Cargo.toml" | head -n 1)
[ -n "$version" ] || { echo "action-install: no version in $action_path/Cargo.toml" >&2; exit 1; }

if sh "$action_path/install.sh" --to "$dest/bin" --version "$version"; then
  echo "action-install: kms-doctor $version from its release archive" >&2
else
  echo "action-install: no release archive of kms-doctor $version for this runner: building it from source (about 5 minutes)" >&2
  cargo install --locked --path "$action_path" --root "$dest"
fi
echo "$dest/bin" >> "${GITHUB_PATH:-/dev/null}"
