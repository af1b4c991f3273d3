//! Where a distribution point is: a directory (`--path DIR` or `file:///dir`), an rsync daemon
//! module (`rsync://host[:port]/module/path`) or a directory on a host reached over ssh
//! (`ssh://[user@]host[:port]/path`). Parsed once at `site dp add` and stored as its URL.

use std::fmt;
use std::path::{Path, PathBuf};

/// A distribution point's location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local or mounted directory.
    Dir(PathBuf),
    /// A module of an rsync daemon, and a folder inside it (may be empty).
    Rsync {
        /// Host name or address.
        host: String,
        /// TCP port (rsync's default 873 when absent).
        port: Option<u16>,
        /// The daemon's module.
        module: String,
        /// Folder inside the module, without leading or trailing `/`.
        path: String,
    },
    /// An absolute directory on a host reached by rsync over ssh.
    Ssh {
        /// Login name (ssh's configuration decides when absent).
        user: Option<String>,
        /// Host name or address.
        host: String,
        /// TCP port (ssh's configuration decides when absent).
        port: Option<u16>,
        /// Absolute directory on the host.
        path: String,
    },
}

/// The transport a location uses, as shown in `site dp list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// A verified local copy.
    File,
    /// rsync to a daemon.
    Rsync,
    /// rsync over ssh.
    Ssh,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::File => "file",
            Transport::Rsync => "rsync",
            Transport::Ssh => "ssh",
        })
    }
}

/// Splits `host[:port]` (`[v6]:port` too).
fn host_port(s: &str, url: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| format!("{url}: unclosed '[' in the host"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (s.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url}: no host"));
    }
    if host.chars().any(|c| c.is_whitespace() || c == '/' || c == '@') || host.starts_with('-') {
        return Err(format!("{url}: {host:?} is not a host name"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| format!("{url}: bad port {p:?}"))?),
    };
    Ok((host, port))
}

/// A path component list without `.`/`..`/empty parts, so a URL cannot climb out of its root.
fn clean_path(p: &str, url: &str) -> Result<String, String> {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    if parts.iter().any(|s| *s == "." || *s == "..") {
        return Err(format!("{url}: '.' and '..' are not allowed in the path"));
    }
    if p.chars().any(|c| c.is_control()) {
        return Err(format!("{url}: control characters in the path"));
    }
    Ok(parts.join("/"))
}

impl Location {
    /// Parses a DP URL (`file:`, `rsync:` or `ssh:`); the error says what is wrong with it.
    pub fn parse_url(url: &str) -> Result<Location, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("{url}: not a URL (file:///dir, rsync://host[:port]/module/path or ssh://[user@]host[:port]/path)")
        })?;
        match scheme.to_ascii_lowercase().as_str() {
            "file" => {
                // file:///dir (empty authority) or file://localhost/dir.
                let path = rest.strip_prefix("localhost").unwrap_or(rest);
                if !path.starts_with('/') {
                    return Err(format!("{url}: a file URL needs an absolute path (file:///dir)"));
                }
                Ok(Location::Dir(PathBuf::from(format!("/{}", clean_path(path, url)?))))
            }
            "rsync" => {
                let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
                let (host, port) = host_port(authority, url)?;
                let path = clean_path(path, url)?;
                let (module, path) = path.split_once('/').unwrap_or((&path, ""));
                if module.is_empty() {
                    return Err(format!("{url}: no rsync module (rsync://host[:port]/module/path)"));
                }
                Ok(Location::Rsync { host, port, module: module.into(), path: path.into() })
            }
            "ssh" => {
                let (authority, path) =
                    rest.split_once('/').ok_or_else(|| format!("{url}: no path (ssh://[user@]host[:port]/path)"))?;
                let (user, hostport) = match authority.rsplit_once('@') {
                    Some((u, h)) => (Some(u.to_owned()), h),
                    None => (None, authority),
                };
                if let Some(u) = &user {
                    if u.is_empty() || u.starts_with('-') || u.chars().any(|c| c.is_whitespace() || c == ':') {
                        return Err(format!("{url}: {u:?} is not a user name"));
                    }
                }
                let (host, port) = host_port(hostport, url)?;
                let path = clean_path(path, url)?;
                if path.is_empty() {
                    return Err(format!("{url}: no path (ssh://[user@]host[:port]/path)"));
                }
                Ok(Location::Ssh { user, host, port, path: format!("/{path}") })
            }
            other => Err(format!("{url}: unknown scheme {other:?} (file, rsync or ssh)")),
        }
    }

    /// The location as a URL (what is stored and shown).
    pub fn url(&self) -> String {
        let host = |h: &str| if h.contains(':') { format!("[{h}]") } else { h.to_owned() };
        let port = |p: &Option<u16>| p.map(|p| format!(":{p}")).unwrap_or_default();
        match self {
            Location::Dir(p) => format!("file://{}", p.display()),
            Location::Rsync { host: h, port: p, module, path } => {
                let path = if path.is_empty() { String::new() } else { format!("/{path}") };
                format!("rsync://{}{}/{module}{path}", host(h), port(p))
            }
            Location::Ssh { user, host: h, port: p, path } => {
                let user = user.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
                format!("ssh://{user}{}{}{path}", host(h), port(p))
            }
        }
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        match self {
            Location::Dir(_) => Transport::File,
            Location::Rsync { .. } => Transport::Rsync,
            Location::Ssh { .. } => Transport::Ssh,
        }
    }

    /// The directory or remote path (for the `path` column of `site dp list`).
    pub fn path(&self) -> PathBuf {
        match self {
            Location::Dir(p) => p.clone(),
            Location::Rsync { module, path, .. } => Path::new(module).join(path),
            Location::Ssh { path, .. } => PathBuf::from(path),
        }
    }

    /// Where image `image` lives on this DP: a path for a directory, a URL otherwise.
    pub fn image_file(&self, image: i64) -> String {
        match self {
            Location::Dir(p) => super::dp::dp_file(p, image).display().to_string(),
            _ => format!("{}/image-{image}/{}", self.url(), super::dp::DP_FILE),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_print_back() {
        for url in [
            "file:///srv/dp1",
            "rsync://127.0.0.1:8730/dp/images/x",
            "rsync://dp2/mod",
            "ssh://root@dp3:2222/srv/dp",
            "ssh://dp3/srv/dp",
            "ssh://[::1]:22/srv",
        ] {
            assert_eq!(Location::parse_url(url).unwrap().url(), url);
        }
        assert_eq!(Location::parse_url("file://localhost/a//b/").unwrap(), Location::Dir("/a/b".into()));
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        for (url, why) in [
            ("/srv/dp", "not a URL"),
            ("http://x/y", "unknown scheme"),
            ("file://relative", "absolute"),
            ("rsync://host", "no rsync module"),
            ("rsync://host:99999/m", "bad port"),
            ("ssh://host", "no path"),
            ("ssh://host/", "no path"),
            ("ssh://-oProxyCommand=x/p", "not a host"),
            ("ssh://u@host/a/../b", "'..'"),
        ] {
            let e = Location::parse_url(url).unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
        }
    }
}
