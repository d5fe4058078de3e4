//! Output files that appear whole or not at all.
//!
//! [`AtomicFile`] writes into a temporary file in the target's folder and
//! renames it over the target only on [`commit`](AtomicFile::commit). A run
//! that fails (or is killed) before then leaves any earlier file at the path
//! untouched, never a truncated one; the temporary file is removed when the
//! writer is dropped uncommitted.
//!
//! A path that exists and is not a regular file (`/dev/null`, a named pipe,
//! `/dev/stdout`) cannot be replaced by a rename, so it is written directly.
//! A symbolic link to a regular file is followed: its target is replaced and
//! the link kept.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinguishes the temporary files of one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A file being written that replaces its target only when committed.
#[derive(Debug)]
pub struct AtomicFile {
    /// The path as given (named in errors).
    path: PathBuf,
    /// Where the data goes on commit (`path` with symbolic links resolved).
    target: PathBuf,
    /// The temporary file, `None` when writing directly to a special file.
    temp: Option<PathBuf>,
    out: BufWriter<File>,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `path`: creates a temporary file beside it (or opens
    /// it directly when it is a special file). Fails, naming `path`, when
    /// its folder does not exist or is not writable, so a long run can check
    /// its output before starting.
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let io = |e| Error::io(path, e);
        let existing = std::fs::metadata(path).ok();
        if existing.as_ref().is_some_and(|m| !m.is_file()) {
            let file = OpenOptions::new().write(true).open(path).map_err(io)?;
            return Ok(AtomicFile {
                path: path.to_path_buf(),
                target: path.to_path_buf(),
                temp: None,
                out: BufWriter::with_capacity(1 << 16, file),
                committed: false,
            });
        }
        let target = match existing {
            Some(_) => std::fs::canonicalize(path).map_err(io)?,
            None => path.to_path_buf(),
        };
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
        let temp = dir.join(format!(
            ".{name}.{}-{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(io)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            target,
            temp: Some(temp),
            out: BufWriter::with_capacity(1 << 16, file),
            committed: false,
        })
    }

    /// The path as given to [`create`](Self::create).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, syncs and renames the temporary file over the target, which
    /// keeps the permissions of the file it replaces.
    pub fn commit(mut self) -> Result<()> {
        let path = self.path.clone();
        let io = |e| Error::io(&path, e);
        self.out.flush().map_err(io)?;
        let Some(temp) = self.temp.clone() else {
            self.committed = true;
            return Ok(());
        };
        self.out.get_ref().sync_all().map_err(io)?;
        if let Ok(old) = std::fs::metadata(&self.target) {
            std::fs::set_permissions(&temp, old.permissions()).map_err(io)?;
        }
        std::fs::rename(&temp, &self.target).map_err(io)?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.out.write_all(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed
            && let Some(temp) = &self.temp
        {
            let _ = std::fs::remove_file(temp);
        }
    }
}

/// Writes `bytes` to `path` atomically (see [`AtomicFile`]).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.commit()
}

/// True when `a` and `b` name the same existing regular file (the same
/// device and inode on Unix; the same canonical path elsewhere). Special
/// files such as `/dev/null` never count: writing one does not destroy it.
pub fn same_regular_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    if !ma.is_file() || !mb.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_files(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_the_target_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "old contents\n").unwrap();
        let mut f = AtomicFile::create(&path).unwrap();
        f.write_all(b"new").unwrap();
        f.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old contents\n");
        assert_eq!(temp_files(dir.path()).len(), 1);
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert!(temp_files(dir.path()).is_empty());
    }

    #[test]
    fn an_uncommitted_file_leaves_the_old_one_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        std::fs::write(&path, "keep me").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(&[b'x'; 100_000]).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
        assert!(temp_files(dir.path()).is_empty());
        // A new file appears only on commit.
        let fresh = dir.path().join("fresh.txt");
        drop(AtomicFile::create(&fresh).unwrap());
        assert!(!fresh.exists());
        write(&fresh, b"hi").unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"hi");
    }

    #[test]
    fn a_missing_folder_fails_at_create_naming_the_path() {
        let err = AtomicFile::create(Path::new("/nonexistent/dir/x.csv")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        assert_eq!(err.to_string(), "/nonexistent/dir/x.csv");
    }

    #[cfg(unix)]
    #[test]
    fn special_files_are_written_directly_and_links_followed() {
        let mut f = AtomicFile::create(Path::new("/dev/null")).unwrap();
        f.write_all(b"discarded").unwrap();
        f.commit().unwrap();
        assert!(Path::new("/dev/null").exists());

        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.txt");
        let link = dir.path().join("link.txt");
        std::fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "new");
    }

    #[cfg(unix)]
    #[test]
    fn commit_keeps_the_permissions_of_the_replaced_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&path, b"y").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn same_regular_file_sees_through_other_names() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        std::fs::write(&a, "x").unwrap();
        let other = dir.path().join("b.csv");
        std::fs::write(&other, "x").unwrap();
        let dotted = dir.path().join(".").join("a.csv");
        assert!(same_regular_file(&a, &dotted));
        assert!(!same_regular_file(&a, &other));
        assert!(!same_regular_file(&a, &dir.path().join("missing.csv")));
        assert!(!same_regular_file(
            Path::new("/dev/null"),
            Path::new("/dev/null")
        ));
        #[cfg(unix)]
        {
            let hard = dir.path().join("hard.csv");
            std::fs::hard_link(&a, &hard).unwrap();
            assert!(same_regular_file(&a, &hard));
        }
    }
}
