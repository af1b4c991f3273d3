//! Distribution to remote DPs with the system `rsync`: its delta transfer runs on both ends, so only
//! what changed crosses the network, and its statistics say how many bytes did.
//!
//! How a DP never serves a partial or mixed image:
//! - rsync daemon (`rsync://`): rsync itself writes the new file under a temporary name beside
//!   `image-<ID>/install.wim`, checks its whole-file checksum against the sender's, and only then
//!   renames it over the old file. A transfer killed midway leaves the old file in place. A daemon
//!   runs no commands, so rsync's checksum is the verification.
//! - ssh (`ssh://`): the new file is rsynced to `image-<ID>/.incoming/install.wim` with the current
//!   `install.wim` as the delta's basis (`--copy-dest`), its SHA-256 is computed on the DP
//!   (`sha256sum`) and compared with the site's, and only then is it renamed over `install.wim`.
//!
//! ssh runs as `WIMPATCH_SSH` (default `ssh`) with `BatchMode=yes`: key-based authentication from
//! the runner's own ssh configuration, never a password prompt.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::dp::DP_FILE;
use super::error::{Error, Result};
use super::location::Location;
use crate::progress::Control;

/// The rsync block size for WIMs (see where it is passed).
const WIM_BLOCK_SIZE: u32 = 4096;
/// Seconds rsync waits to connect to a daemon, and ssh to a host.
const CONNECT_TIMEOUT: u32 = 15;
/// Seconds of silence after which rsync gives up on a stalled transfer.
const IO_TIMEOUT: u32 = 300;
/// The staging folder inside `image-<ID>` on an ssh DP.
const INCOMING: &str = ".incoming";

/// What one rsync transfer did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Bytes the site sent (rsync's "Total bytes sent": literal data, match tokens, protocol).
    pub bytes_sent: u64,
    /// Bytes the DP sent back (its block checksums, protocol).
    pub bytes_received: u64,
    /// How the DP's copy was verified before it was switched in.
    pub verification: &'static str,
}

/// The ssh command line: `WIMPATCH_SSH` split on white space, then the options wimpatch needs.
fn ssh_words(port: Option<u16>) -> Vec<String> {
    let base = std::env::var("WIMPATCH_SSH").ok().filter(|s| !s.trim().is_empty()).unwrap_or_else(|| "ssh".into());
    let mut words: Vec<String> = base.split_whitespace().map(str::to_owned).collect();
    words.extend(["-o".into(), "BatchMode=yes".into(), "-o".into(), format!("ConnectTimeout={CONNECT_TIMEOUT}")]);
    if let Some(p) = port {
        words.extend(["-p".into(), p.to_string()]);
    }
    words
}

fn ssh_host(user: &Option<String>, host: &str) -> String {
    match user {
        Some(u) => format!("{u}@{host}"),
        None => host.to_owned(),
    }
}

/// Quotes one word for the remote POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Sends `source` (whose SHA-256 is `sha256`) to `loc` as `image-<image>/install.wim`.
pub fn send(
    source: &Path,
    loc: &Location,
    image: i64,
    sha256: &str,
    bwlimit: Option<u32>,
    control: Control<'_>,
) -> Result<Transfer> {
    let url = loc.url();
    let mut cmd = Command::new("rsync");
    cmd.args(["--stats", "--ignore-times", "--no-whole-file", "--mkpath"]);
    // A rewritten WIM keeps most of its (small, a few KB each) blobs but not their order: rsync's
    // default block for a 1.2 GB file (~35 KB) spans several, so few blocks match (43% of the bytes
    // sent on the large bench image); 4 KB blocks match blob by blob (11.5%), for a few MB of
    // checksums from the DP.
    cmd.arg(format!("--block-size={WIM_BLOCK_SIZE}"));
    cmd.arg(format!("--timeout={IO_TIMEOUT}"));
    if let Some(kbps) = bwlimit {
        cmd.arg(format!("--bwlimit={kbps}"));
    }
    match loc {
        Location::Rsync { host, port, module, path } => {
            cmd.args(["--no-motd", &format!("--contimeout={CONNECT_TIMEOUT}")]);
            let host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let dir = if path.is_empty() { module.clone() } else { format!("{module}/{path}") };
            cmd.arg("--").arg(source).arg(format!("rsync://{host}{port}/{dir}/image-{image}/{DP_FILE}"));
            let out = run(cmd, &url, control)?;
            let (bytes_sent, bytes_received) = stats(&out, &url)?;
            Ok(Transfer { bytes_sent, bytes_received, verification: "rsync whole-file checksum" })
        }
        Location::Ssh { user, host, port, path } => {
            let image_dir = format!("{path}/image-{image}");
            let staged = format!("{image_dir}/{INCOMING}/{DP_FILE}");
            let target = format!("{image_dir}/{DP_FILE}");
            cmd.arg("-e").arg(ssh_words(*port).join(" "));
            cmd.arg(format!("--copy-dest={image_dir}"));
            cmd.arg("--").arg(source).arg(format!("{}:{staged}", ssh_host(user, host)));
            let out = run(cmd, &url, control)?;
            let (bytes_sent, bytes_received) = stats(&out, &url)?;
            if control.cancelled() {
                return Err(Error::Cancelled { what: format!("distribution to {url}") });
            }
            let remote = |script: String| -> Result<String> {
                let words = ssh_words(*port);
                let mut c = Command::new(&words[0]);
                c.args(&words[1..]).arg("--").arg(ssh_host(user, host)).arg(script);
                run(c, &url, control)
            };
            let sum = remote(format!("sha256sum -- {}", sh_quote(&staged)))?;
            let actual = sum.split_whitespace().next().unwrap_or_default().to_owned();
            if actual != sha256 {
                let _ = remote(format!("rm -f -- {}", sh_quote(&staged)));
                return Err(Error::Mismatch {
                    path: format!("{url}/image-{image}/{INCOMING}/{DP_FILE}").into(),
                    what: "rsync",
                    expected: sha256.into(),
                    actual,
                });
            }
            // The switch: synced, then one rename on the DP's filesystem.
            remote(format!(
                "sync -- {s} && mv -f -- {s} {t} && rmdir -- {d}",
                s = sh_quote(&staged),
                t = sh_quote(&target),
                d = sh_quote(&format!("{image_dir}/{INCOMING}"))
            ))?;
            Ok(Transfer { bytes_sent, bytes_received, verification: "rsync whole-file checksum + sha256" })
        }
        Location::Dir(_) => unreachable!("directory DPs are copied, not rsynced"),
    }
}

/// Runs `cmd` to its end (killed on cancel); returns stdout, or the failure with stderr's last lines.
fn run(mut cmd: Command, url: &str, control: Control<'_>) -> Result<String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| Error::Transfer {
        dp: url.into(),
        reason: format!("cannot run {program}: {e} (install rsync and openssh-client)"),
    })?;
    let (out, err) = drain(&mut child);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(Error::io(program.clone(), "cannot wait for"))? {
            break status;
        }
        if control.cancelled() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Cancelled { what: format!("distribution to {url}") });
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if status.success() {
        return Ok(stdout);
    }
    let tail: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(3)..].join("; ");
    let code = status.code().map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit status {c}"));
    Err(Error::Transfer { dp: url.into(), reason: format!("{program} failed ({code}): {tail}") })
}

/// Reads a child's stdout and stderr on two threads (either filling its pipe would block the child).
fn drain(child: &mut Child) -> (std::thread::JoinHandle<String>, std::thread::JoinHandle<String>) {
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                s = String::from_utf8_lossy(&bytes).into_owned();
            }
            s
        })
    };
    let out = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    (out, err)
}

/// rsync's "Total bytes sent" and "Total bytes received" (digits only: thousands separators vary).
pub fn stats(stdout: &str, url: &str) -> Result<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let line = stdout.lines().find_map(|l| l.trim().strip_prefix(name))?;
        let digits: String = line.chars().take_while(|c| !c.is_alphabetic()).filter(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    match (field("Total bytes sent:"), field("Total bytes received:")) {
        (Some(s), Some(r)) => Ok((s, r)),
        _ => Err(Error::Transfer { dp: url.into(), reason: "rsync printed no transfer statistics".into() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_are_read_whatever_the_thousands_separator() {
        let out = "Number of files: 1 (reg: 1)\nTotal bytes sent: 1,234,567\nTotal bytes received: 8.910\n";
        assert_eq!(stats(out, "x").unwrap(), (1_234_567, 8_910));
        assert!(stats("nothing", "x").is_err());
    }

    #[test]
    fn remote_words_are_quoted_for_the_shell() {
        assert_eq!(sh_quote("/srv/it's here"), r"'/srv/it'\''s here'");
    }
}
