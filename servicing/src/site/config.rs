//! The site folder's own record (`site.json`): which database the site uses (`sqlite`, the file
//! `site.db` in the folder, or a PostgreSQL URL) and the site's ID, which the database records too.
//! A folder whose database carries another site's ID (or none) is refused, so two site folders never
//! share, or silently swap, one catalog and one job table.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

/// File name of the record inside the site folder.
pub const CONFIG_FILE: &str = "site.json";

/// The `database` word of a SQLite site.
pub const SQLITE: &str = "sqlite";

/// What `site.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteConfig {
    /// The site's ID (also in the database's `site` table).
    pub site_id: String,
    /// `sqlite`, or the PostgreSQL URL.
    pub database: String,
}

impl SiteConfig {
    /// Reads the record of the site at `dir`; `None` when there is none (a site made before
    /// records existed: SQLite).
    pub fn read(dir: &Path) -> Result<Option<SiteConfig>> {
        let path = dir.join(CONFIG_FILE);
        let mut text = String::new();
        match safe_fs::open_regular(&path) {
            Ok(f) => {
                f.take(64 * 1024).read_to_string(&mut text).map_err(Error::io(&path, "cannot read the site record"))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "cannot read the site record")(e)),
        }
        serde_json::from_str(&text).map(Some).map_err(|e| Error::BadSiteRecord { path, reason: e.to_string() })
    }

    /// Writes the record (atomically; readable by its owner only, as the URL may hold a password).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(CONFIG_FILE);
        let mut text = serde_json::to_string_pretty(self).expect("serialises");
        text.push('\n');
        safe_fs::replace_with(&path, |f| {
            use std::io::Write as _;
            use std::os::unix::fs::PermissionsExt as _;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            f.write_all(text.as_bytes())
        })
        .map_err(Error::io(&path, "cannot write the site record"))
    }

    /// Whether the site uses PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.database != SQLITE
    }

    /// The record's path for `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(CONFIG_FILE)
    }
}

/// Whether `database` (from `--database` or `WIMPATCH_SITE_DATABASE`) names PostgreSQL.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgresql://") || database.starts_with("postgres://")
}

/// A new site ID: 128 random bits from the kernel, in hex.
pub fn new_site_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    let urandom = Path::new("/dev/urandom");
    std::fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(Error::io(urandom, "cannot read random bytes for the site ID"))?;
    Ok(cbs::hex::hex(&bytes))
}
