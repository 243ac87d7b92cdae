//! Read access to an extract: a KBO zip read in place (entries streamed, never unpacked to disk) or a
//! folder of CSV files. Files are found by name, ignoring any folder inside the zip.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a readable zip archive ({msg}); the download may be truncated or corrupt: fetch the extract again")]
    BadZip { path: PathBuf, msg: String },
    #[error("{extract}: the file {file} is missing from the extract")]
    MissingFile { extract: String, file: String },
    #[error("{path}: neither a .zip file nor a folder")]
    NotAnExtract { path: PathBuf },
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, Clone)]
enum Kind {
    Zip { entries: Vec<(String, String, u64)> }, // (file name, entry name, uncompressed size)
    Folder,
}

/// An opened extract.
#[derive(Debug, Clone)]
pub struct Extract {
    path: PathBuf,
    kind: Kind,
}

impl Extract {
    pub fn open(path: &Path) -> Result<Extract> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let md = std::fs::metadata(path).map_err(io)?;
        if md.is_dir() {
            return Ok(Extract {
                path: path.to_path_buf(),
                kind: Kind::Folder,
            });
        }
        if !md.is_file() {
            return Err(Error::NotAnExtract {
                path: path.to_path_buf(),
            });
        }
        let file = File::open(path).map_err(io)?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| Error::BadZip {
            path: path.to_path_buf(),
            msg: e.to_string(),
        })?;
        let mut entries = Vec::new();
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(|e| Error::BadZip {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })?;
            if f.is_dir() {
                continue;
            }
            let name = f
                .name()
                .map_err(|e| Error::BadZip {
                    path: path.to_path_buf(),
                    msg: e.to_string(),
                })?
                .to_string();
            let base = name.rsplit('/').next().unwrap_or(&name).to_string();
            entries.push((base, name, f.size()));
        }
        Ok(Extract {
            path: path.to_path_buf(),
            kind: Kind::Zip { entries },
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The extract's name for messages: the zip or folder name.
    pub fn display_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Where a file of the extract is, for messages: `KboOpenData_…zip:enterprise.csv`.
    pub fn locate(&self, file: &str) -> String {
        match self.kind {
            Kind::Zip { .. } => format!("{}:{file}", self.path.display()),
            Kind::Folder => self.path.join(file).display().to_string(),
        }
    }

    pub fn has(&self, file: &str) -> bool {
        match &self.kind {
            Kind::Zip { entries } => entries.iter().any(|(b, _, _)| b == file),
            Kind::Folder => self.path.join(file).is_file(),
        }
    }

    /// Uncompressed size of a file, for progress.
    pub fn size(&self, file: &str) -> Option<u64> {
        match &self.kind {
            Kind::Zip { entries } => entries.iter().find(|(b, _, _)| b == file).map(|e| e.2),
            Kind::Folder => std::fs::metadata(self.path.join(file))
                .ok()
                .map(|m| m.len()),
        }
    }

    /// Runs `f` on a streaming reader of one file. A corrupt entry surfaces as an I/O error from the
    /// reader (the zip crate checks the CRC at the end of the entry).
    pub fn with_reader<T>(&self, file: &str, f: impl FnOnce(&mut dyn Read) -> T) -> Result<T> {
        let missing = || Error::MissingFile {
            extract: self.display_name(),
            file: file.to_string(),
        };
        match &self.kind {
            Kind::Folder => {
                let p = self.path.join(file);
                if !p.is_file() {
                    return Err(missing());
                }
                let mut r = File::open(&p).map_err(|source| Error::Io {
                    path: p.clone(),
                    source,
                })?;
                Ok(f(&mut r))
            }
            Kind::Zip { entries } => {
                let entry = entries
                    .iter()
                    .find(|(b, _, _)| b == file)
                    .ok_or_else(missing)?;
                let io = |source| Error::Io {
                    path: self.path.clone(),
                    source,
                };
                let fh = File::open(&self.path).map_err(io)?;
                let mut zip =
                    zip::ZipArchive::new(BufReader::with_capacity(1 << 16, fh)).map_err(|e| {
                        Error::BadZip {
                            path: self.path.clone(),
                            msg: e.to_string(),
                        }
                    })?;
                let mut r = zip.by_name(&entry.1).map_err(|e| Error::BadZip {
                    path: self.path.clone(),
                    msg: e.to_string(),
                })?;
                Ok(f(&mut r))
            }
        }
    }

    /// Reads a whole (small) file.
    pub fn read_all(&self, file: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::new();
        let r = self.with_reader(file, |r| r.read_to_end(&mut buf))?;
        r.map_err(|source| Error::Io {
            path: PathBuf::from(self.locate(file)),
            source,
        })?;
        Ok(buf)
    }
}
