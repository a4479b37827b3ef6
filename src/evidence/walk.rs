//! Walking a directory tree for files to read, bounded: only regular files are listed (a FIFO
//! or a device would block or never end); a link is followed only when its target stays inside
//! the root (`follow_links`: anywhere on the root's filesystem), and every directory and file is
//! visited once, by device and inode, so a link loop ends and a file linked twice is read once;
//! a directory that cannot be read is skipped with its reason; the listing stops at a number of
//! files, and says so. Shared by the log archives and `check`.

use crate::diagnosis::model::Skipped;
use std::path::{Path, PathBuf};

/// Skipped files named in a report, at most (the walk's and every log source's).
pub const MAX_REASONS: usize = 200;

/// What a walk keeps.
pub struct Walk<'a> {
    /// Files listed at most.
    pub max_files: usize,
    /// Whether to enter a directory, by name.
    pub enter: &'a dyn Fn(&str) -> bool,
    /// Whether to list a file, by path and name.
    pub want: &'a dyn Fn(&Path, &str) -> bool,
    /// Why the rest is not listed, once `max_files` is reached.
    pub too_many: &'a str,
    /// Follow links whose target leaves the root (still not onto another filesystem, nor to a
    /// directory that holds the root). Off: a
    /// link out of the tree is skipped, so that a link to `/` in a pull request reads nothing of
    /// the runner's.
    pub follow_links: bool,
}

/// The wanted regular files under `root` (or `root` itself, when it is a file), sorted, and
/// what the walk could not use. An error only when `root` cannot be read at all.
pub fn regular_files(root: &Path, walk: &Walk) -> std::io::Result<(Vec<PathBuf>, Skipped)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(root)?;
    if meta.is_file() {
        return Ok((vec![root.to_owned()], Skipped::default()));
    }
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file or a directory",
        ));
    }
    let mut skipped = Skipped::default();
    let mut skip = |path: &Path, why: String| {
        skipped.files += 1;
        if skipped.reasons.len() < MAX_REASONS {
            skipped.reasons.push(format!("{}: {why}", path.display()));
        }
    };
    let mut seen = std::collections::HashSet::new();
    seen.insert((meta.dev(), meta.ino()));
    let inside = root.canonicalize()?;
    let mut files = Vec::new();
    let mut dirs = vec![root.to_owned()];
    'walk: while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                skip(&dir, format!("directory cannot be read ({e})"));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type().is_ok_and(|t| t.is_symlink()) {
                let target = match path.canonicalize() {
                    Ok(t) => t,
                    Err(e) => {
                        // A dangling link, as any file that cannot be read.
                        skip(&path, format!("cannot be read ({e})"));
                        continue;
                    }
                };
                // Asked to follow, still never onto another filesystem, nor up to a directory
                // that holds the root (`/`, `..`): that would walk everything around it.
                let same_filesystem =
                    std::fs::metadata(&target).is_ok_and(|m| m.dev() == meta.dev());
                let holds_root = inside.starts_with(&target);
                let followed = walk.follow_links && same_filesystem && !holds_root;
                if !target.starts_with(&inside) && !followed {
                    skip(
                        &path,
                        format!(
                            "a link out of the tree (to {}): not followed",
                            target.display()
                        ),
                    );
                    continue;
                }
            }
            // Follows a link to what it names; a dangling link is skipped.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    skip(&path, format!("cannot be read ({e})"));
                    continue;
                }
            };
            if !seen.insert((meta.dev(), meta.ino())) {
                continue; // already listed, through another path or a link loop
            }
            if meta.is_dir() {
                if (walk.enter)(&name) {
                    dirs.push(path);
                }
            } else if !(walk.want)(&path, &name) {
                continue;
            } else if !meta.is_file() {
                skip(
                    &path,
                    "not a regular file (a FIFO, socket or device): not read".into(),
                );
            } else if files.len() >= walk.max_files {
                skip(&path, walk.too_many.to_owned());
                break 'walk;
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok((files, skipped))
}
