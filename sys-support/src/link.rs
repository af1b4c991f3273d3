//! Finds a system C library from a build script and tells cargo how to link it.
//!
//! Order: `<PREFIX>_LIB_DIR` (escape hatch), then pkg-config with a minimum version, then a bare
//! `-l<name>`. The bare fallback is the normal path for wimlib on Debian: `wimlib.pc` lists `libntfs-3g` and
//! `fuse` in `Requires.private`, and pkgconf fails when their dev packages are absent although
//! `libwim-dev` itself is complete. The bindings are committed, so no header or libclang is needed.

use std::env;
use std::path::Path;

/// What to look for.
pub struct Library<'a> {
    /// The pkg-config module name, e.g. `wimlib`.
    pub pkg_config_name: &'a str,
    /// The minimum version accepted from pkg-config.
    pub min_version: &'a str,
    /// The link name, e.g. `wim` for `libwim.so`.
    pub link_name: &'a str,
    /// Environment prefix: `<PREFIX>_LIB_DIR` and `<PREFIX>_NO_PKG_CONFIG` are honoured.
    pub env_prefix: &'a str,
    /// The Debian package that provides it, for the hint printed when the library is missing.
    pub debian_package: &'a str,
}

/// How the library was found.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// From `<PREFIX>_LIB_DIR`.
    EnvDir,
    /// From pkg-config.
    PkgConfig,
    /// A bare `-l<name>`, relying on the linker's default search path.
    Bare,
}

/// Emits the `cargo:` lines that link `lib`. Call it from `build.rs`.
pub fn link(lib: &Library<'_>) -> Found {
    let dir_var = format!("{}_LIB_DIR", lib.env_prefix);
    let no_pc_var = format!("{}_NO_PKG_CONFIG", lib.env_prefix);
    println!("cargo:rerun-if-env-changed={dir_var}");
    println!("cargo:rerun-if-env-changed={no_pc_var}");

    if let Ok(dir) = env::var(&dir_var) {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-lib={}", lib.link_name);
        return Found::EnvDir;
    }
    if env::var_os(&no_pc_var).is_none()
        && pkg_config::Config::new().atleast_version(lib.min_version).probe(lib.pkg_config_name).is_ok()
    {
        return Found::PkgConfig;
    }
    println!("cargo:rustc-link-lib={}", lib.link_name);
    let file = format!("lib{}.so", lib.link_name);
    if !system_has(&file) {
        println!(
            "cargo:warning={file} was not found in the usual library directories; install it with \
             `apt-get install {}` (or `make deps`), or set {dir_var}",
            lib.debian_package
        );
    }
    Found::Bare
}

/// Records the version pkg-config reports for `lib` at build time as the compile-time environment
/// variable `<PREFIX>_BUILD_VERSION` of the crate being built ("unknown" when pkg-config cannot say),
/// for libraries that have no run-time version call (libhivex): `--version` prints it, labelled as
/// the build-time version.
pub fn record_build_version(lib: &Library<'_>) {
    let version = pkg_config::Config::new()
        .cargo_metadata(false)
        .env_metadata(false)
        .probe(lib.pkg_config_name)
        .map(|l| l.version)
        .unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env={}_BUILD_VERSION={version}", lib.env_prefix);
}

/// Looks for a shared library in the directories a Debian linker searches by default.
fn system_has(file: &str) -> bool {
    let mut dirs = vec!["/usr/lib".to_string(), "/usr/lib64".to_string(), "/usr/local/lib".to_string()];
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().contains("-linux-") {
                dirs.push(e.path().to_string_lossy().into_owned());
            }
        }
    }
    dirs.iter().any(|d| Path::new(d).join(file).exists())
}
