//! Writing the files kms-doctor proposes (`--write-fix`, `--save-evidence`): never over an
//! existing file without `--force`, never through a symbolic link, never half-written (a
//! temporary file in the same directory, put into place once complete).

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutputFileError {
    #[error("{0} exists: pass --force to replace it")]
    Exists(String),
    #[error("{0} is a symbolic link: kms-doctor does not write through links")]
    Symlink(String),
    #[error("{0} is not a regular file")]
    NotAFile(String),
    #[error("cannot write {path}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// Whether `path` may be written: checked before anything runs, and again when writing.
pub fn check_target(path: &Path, force: bool) -> Result<(), OutputFileError> {
    let label = || path.display().to_string();
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(OutputFileError::Symlink(label())),
        Ok(meta) if !meta.is_file() => Err(OutputFileError::NotAFile(label())),
        Ok(_) if !force => Err(OutputFileError::Exists(label())),
        _ => Ok(()),
    }
}

/// Writes `contents` to `path` as a whole: the file appears complete or not at all.
pub fn write_new(path: &Path, contents: &[u8], force: bool) -> Result<(), OutputFileError> {
    check_target(path, force)?;
    place(path, contents, force)
}

/// Writes a temporary file and puts it at `path`; without `force`, a file that appeared there
/// after the check stays as it is.
fn place(path: &Path, contents: &[u8], force: bool) -> Result<(), OutputFileError> {
    let label = path.display().to_string();
    let io_err = |source| OutputFileError::Io {
        path: label.clone(),
        source,
    };
    let temp = temp_path(path);
    // `create_new` refuses anything already there, a link included.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io_err)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    // Without --force, a hard link puts the file in place only if nothing is there by then
    // (a file created since the check is kept); rename would replace it.
    let placed = written.and_then(|()| {
        if force {
            std::fs::rename(&temp, path)
        } else {
            std::fs::hard_link(&temp, path)
        }
    });
    let _ = std::fs::remove_file(&temp);
    match placed {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(OutputFileError::Exists(label)),
        Err(e) => Err(io_err(e)),
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.kms-doctor-{}.tmp", std::process::id()))
}

/// Whether two paths name the same file (the second need not exist yet).
pub fn same_file(a: &Path, b: &Path) -> bool {
    let canonical = |p: &Path| -> Option<PathBuf> {
        if let Ok(c) = p.canonicalize() {
            return Some(c);
        }
        // A file not written yet: its directory, canonical, and its name.
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.canonicalize().ok()?,
            _ => std::env::current_dir().ok()?,
        };
        Some(parent.join(p.file_name()?))
    };
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kms-doctor-out-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn an_existing_file_is_kept_unless_forced() {
        let d = dir("exists");
        let f = d.join("fix.json");
        write_new(&f, b"one", false).unwrap();
        assert!(matches!(
            write_new(&f, b"two", false),
            Err(OutputFileError::Exists(_))
        ));
        assert_eq!(std::fs::read(&f).unwrap(), b"one");
        write_new(&f, b"two", true).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn a_file_that_appears_after_the_check_is_kept() {
        let d = dir("race");
        let f = d.join("fix.json");
        check_target(&f, false).unwrap();
        std::fs::write(&f, b"theirs").unwrap();
        assert!(matches!(
            place(&f, b"ours", false),
            Err(OutputFileError::Exists(_))
        ));
        assert_eq!(std::fs::read(&f).unwrap(), b"theirs");
        assert_eq!(
            std::fs::read_dir(&d).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn a_link_at_the_target_is_never_followed() {
        let d = dir("link");
        let victim = d.join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = d.join("fix.json");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for force in [false, true] {
            assert!(matches!(
                write_new(&link, b"evil", force),
                Err(OutputFileError::Symlink(_))
            ));
        }
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
    }

    #[test]
    fn paths_to_one_file_are_the_same() {
        let d = dir("same");
        let f = d.join("e.json");
        std::fs::write(&f, b"{}").unwrap();
        assert!(same_file(&f, &d.join(".").join("e.json")));
        assert!(!same_file(&f, &d.join("other.json")));
    }
}
