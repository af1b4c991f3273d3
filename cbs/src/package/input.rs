//! An input path opened as what it holds: one CBS package, an MSU of several (cab or WIM form), a
//! folder of packages, or something this tool does not read. Shared by `inspect` and `extract`.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use super::error::Error;
use super::psf_site::spool_reader;
use crate::container::{
    self, classify_wim, detect_path, msu_member, Cabinet, ContainerKind, DirectorySource, Limits, Msu, MsuMember,
    PackageSource, PkgProperties, WimContent, WimSource, TEXT_MEMBER_MAX,
};
use crate::psf::psf_beside;

/// How the engine opens a WIM for `cbs` (which has no FFI): the path of a WIM-format MSU, or of the
/// LCU `.wim` inside one, to its content. `wimpatch` passes the servicing engine's reader.
pub type WimOpener<'a> = &'a dyn Fn(&Path) -> container::Result<Box<dyn WimContent>>;

/// What an input path holds.
pub(crate) enum Input {
    /// One CBS package, read directly (`cbs-cab`, `package-folder`, `cbs-wim`).
    Package { kind: &'static str, source: Box<dyn PackageSource> },
    /// An MSU; its inner packages are opened one at a time.
    Msu(MsuInput),
    /// A folder of packages, sorted by name.
    Folder(Vec<PathBuf>),
    /// Nothing to read further (`wim-msu` without a WIM reader, `unsupported`): the kind and why.
    Other { kind: &'static str, reason: String },
}

/// Opens `path`. `wim` reads WIM-format MSUs; without it they are reported, not read.
pub(crate) fn open_input(path: &Path, limits: Limits, wim: Option<WimOpener<'_>>) -> Result<Input, Error> {
    let shown = path.display().to_string();
    if path.is_dir() {
        if has_update_mum(path) {
            let source = DirectorySource::open(path, limits)?;
            return Ok(Input::Package { kind: "package-folder", source: Box::new(source) });
        }
        let files = folder_packages(path)?;
        return Ok(Input::Folder(without_psf_payloads(files)));
    }
    let kind = detect_path(path, limits)?;
    Ok(match kind {
        ContainerKind::CbsCab => Input::Package { kind: "cbs-cab", source: Box::new(Cabinet::open(path, limits)?) },
        ContainerKind::Msu | ContainerKind::CombinedMsu => {
            let label = if kind == ContainerKind::Msu { "msu" } else { "combined-msu" };
            let msu = Msu::open(path, limits)?;
            let kb = msu.kb_number();
            let inner = msu.inner_cab_names().to_vec();
            let skipped = msu.skipped_members().to_vec();
            Input::Msu(MsuInput {
                kind: label,
                kb,
                inner,
                skipped,
                package: shown,
                limits,
                container: Container::Cab(Box::new(msu)),
            })
        }
        ContainerKind::WimMsu => match wim {
            None => Input::Other {
                kind: "wim-msu",
                reason: "WIM-format MSU: recognised; reading its content is not wired up yet".into(),
            },
            Some(open) => open_wim(path, shown, limits, open)?,
        },
        ContainerKind::Unsupported(reason) => Input::Other { kind: "unsupported", reason },
    })
}

/// Whether `dir` is an extracted package (holds `update.mum`, in any case).
fn has_update_mum(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|it| it.flatten().any(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case("update.mum")))
        .unwrap_or(false)
}

/// The packages of a folder that is not one itself, sorted by name (DISM `/PackagePath:<folder>`):
/// its files and its package subfolders.
fn folder_packages(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| Error::Io { path: dir.display().to_string(), source })?
        .flatten()
        .map(|e| e.path())
        .filter(|f| f.is_file() || (f.is_dir() && has_update_mum(f)))
        .collect();
    files.sort();
    Ok(files)
}

/// Drops a `.psf` that sits beside its `.cab` (or package folder): it is that package's payload,
/// not a package.
fn without_psf_payloads(mut inputs: Vec<PathBuf>) -> Vec<PathBuf> {
    let lower = |p: &Path| p.to_string_lossy().to_lowercase();
    let is_ext = |p: &Path, ext: &str| p.extension().is_some_and(|e| e.eq_ignore_ascii_case(ext));
    let payloads: std::collections::HashSet<String> =
        inputs.iter().filter(|p| p.is_dir() || is_ext(p, "cab")).map(|p| lower(&psf_beside(p))).collect();
    inputs.retain(|p| !(is_ext(p, "psf") && payloads.contains(&lower(p))));
    inputs
}

/// The package inputs the paths given stand for: a file is itself; a package folder (holding
/// `update.mum`) is one input; any other folder gives its files and package subfolders, sorted by
/// name. A `.psf` beside its package is not an input. A path that is neither a folder nor a regular
/// file (a FIFO, a device) is refused here, without blocking, before any lock is taken.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for p in paths {
        let io = |source| Error::Io { path: p.display().to_string(), source };
        let meta = std::fs::metadata(p).map_err(io)?;
        if !meta.is_dir() {
            crate::regular_file::open_regular(p).map_err(io)?;
            out.push(p.clone());
        } else if has_update_mum(p) {
            out.push(p.clone());
        } else {
            out.extend(folder_packages(p)?);
        }
    }
    Ok(without_psf_payloads(out))
}

/// A WIM read through the engine: an MSU (classic or combined layout), or a CBS package held
/// directly (the LCU `.wim`).
fn open_wim(path: &Path, shown: String, limits: Limits, open: WimOpener<'_>) -> Result<Input, Error> {
    let content = open(path)?;
    Ok(match classify_wim(&*content, &shown, limits)? {
        ContainerKind::CbsCab => {
            Input::Package { kind: "cbs-wim", source: Box::new(WimSource::new(content, shown, limits)) }
        }
        ContainerKind::Unsupported(reason) => Input::Other { kind: "unsupported", reason },
        _ => {
            let root: Vec<String> = content.list()?.into_iter().filter(|n| !n.contains(['/', '\\'])).collect();
            let lower = |n: &String| n.to_ascii_lowercase();
            // The same selection as `Msu` makes in a cab-form MSU, plus the LCU in WIM form.
            let mut inner: Vec<String> = root.iter().filter(|n| msu_member(n) == MsuMember::Package).cloned().collect();
            let skipped = root
                .iter()
                .filter_map(|n| match msu_member(n) {
                    MsuMember::NotForTheImage(why) => Some((n.clone(), why)),
                    _ => None,
                })
                .collect();
            inner.sort_by_key(|n| !lower(n).starts_with("ssu-"));
            let properties = match root.iter().find(|n| lower(n).ends_with("-pkgproperties.txt")) {
                Some(n) => Some(PkgProperties::parse(&content.read(n, TEXT_MEMBER_MAX)?)),
                None => None,
            };
            let kb = properties
                .as_ref()
                .and_then(PkgProperties::kb_article_number)
                .map(str::to_owned)
                .or_else(|| inner.iter().find_map(|name| crate::name::kb_in_file_name(name)));
            let container = Container::Wim(content);
            Input::Msu(MsuInput { kind: "wim-msu", kb, inner, skipped, package: shown, limits, container })
        }
    })
}

/// An MSU's outer container.
enum Container {
    Cab(Box<Msu<BufReader<File>>>),
    Wim(Box<dyn WimContent>),
}

/// An MSU: its kind, KB and inner packages (servicing stack first).
pub(crate) struct MsuInput {
    /// `msu`, `combined-msu` or `wim-msu`.
    pub(crate) kind: &'static str,
    /// `KB Article Number` of the properties, else the digits after `KB` in an inner cab's name.
    pub(crate) kb: Option<String>,
    /// Inner package members, `SSU-*` first.
    pub(crate) inner: Vec<String>,
    /// Root members that are not for the OS image, with why.
    pub(crate) skipped: Vec<(String, &'static str)>,
    package: String,
    limits: Limits,
    container: Container,
}

impl MsuInput {
    /// The MSU's path, as shown.
    pub(crate) fn path(&self) -> &str {
        &self.package
    }

    /// The `.psf` members at the MSU's root (a combined MSU's express payload).
    pub(crate) fn psf_names(&self) -> Result<Vec<String>, Error> {
        Ok(match &self.container {
            Container::Cab(msu) => msu.psf_names().to_vec(),
            Container::Wim(content) => content
                .list()?
                .into_iter()
                .filter(|n| !n.contains(['/', '\\']) && crate::name::ends_with_ci(n, ".psf"))
                .collect(),
        })
    }

    /// A root member copied out to a seekable temporary file (or memory, when small).
    pub(crate) fn spool_member(&mut self, name: &str) -> Result<container::Spooled, Error> {
        match &mut self.container {
            Container::Cab(msu) => {
                let package = msu.package().to_owned();
                let mut reader = msu.cabinet_mut().open_member(name)?;
                spool_reader(&mut reader, &package, name)
            }
            Container::Wim(content) => Ok(content.spool(name, self.limits.max_member_bytes)?),
        }
    }

    /// Opens the inner package `name` (one of [`MsuInput::inner`]): its kind (`cbs-cab` or `cbs-wim`)
    /// and source, named `<msu>!<name>` in errors. An inner `.wim` needs `wim`.
    pub(crate) fn open_inner(
        &mut self,
        name: &str,
        scratch: Option<&Path>,
        wim: Option<WimOpener<'_>>,
    ) -> Result<(&'static str, Box<dyn PackageSource>), Error> {
        let package = format!("{}!{name}", self.package);
        match &mut self.container {
            Container::Cab(msu) => Ok(("cbs-cab", Box::new(msu.open_inner(name, scratch)?))),
            Container::Wim(content) => {
                let spooled = content.spool(name, self.limits.max_member_bytes)?;
                if !crate::name::ends_with_ci(name, ".wim") {
                    return Ok(("cbs-cab", Box::new(Cabinet::new_nested(spooled, package, self.limits, 1)?)));
                }
                let open = wim.ok_or_else(|| container::Error::Unsupported {
                    package: package.clone(),
                    member: None,
                    detail: "an inner WIM needs the engine's WIM reader".into(),
                })?;
                let inner = InnerWim::spool(spooled, &package, open)?;
                match classify_wim(&inner, &package, self.limits)? {
                    ContainerKind::CbsCab => Ok(("cbs-wim", Box::new(WimSource::new(inner, package, self.limits)))),
                    other => Err(container::Error::Unsupported {
                        package,
                        member: None,
                        detail: format!("inner WIM is not a CBS package: {other}"),
                    }
                    .into()),
                }
            }
        }
    }
}

/// A WIM inside a WIM-MSU: copied to a temporary file (the engine opens WIMs by path), which lives
/// as long as the reader of its content.
struct InnerWim {
    content: Box<dyn WimContent>,
    _file: tempfile::NamedTempFile,
}

impl InnerWim {
    fn spool(mut bytes: container::Spooled, package: &str, open: WimOpener<'_>) -> Result<InnerWim, Error> {
        let io_err = |source| container::Error::Io { package: package.to_owned(), member: None, source };
        let mut file = tempfile::NamedTempFile::new().map_err(io_err)?;
        io::copy(&mut bytes, &mut file).map_err(io_err)?;
        let content = open(file.path()).map_err(|e| container::Error::Backend {
            package: package.to_owned(),
            member: None,
            source: Box::new(e),
        })?;
        Ok(InnerWim { content, _file: file })
    }
}

impl WimContent for InnerWim {
    fn list(&self) -> container::Result<Vec<String>> {
        self.content.list()
    }

    fn read(&self, path: &str, limit: u64) -> container::Result<Vec<u8>> {
        self.content.read(path, limit)
    }

    fn spool(&self, path: &str, limit: u64) -> container::Result<container::Spooled> {
        self.content.spool(path, limit)
    }
}
