//! What can go wrong applying packages; every variant names the image, package or file concerned.

use crate::io_error::IoError;
use std::path::PathBuf;

/// An error of package application or of reading an image's servicing state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The WIM layer failed (open, lock, extract, update, commit); the message names the WIM.
    #[error(transparent)]
    Wim(#[from] crate::wim::Error),
    /// A registry hive could not be read or written (the hive layer's message names the file).
    #[error("{source}")]
    Hive {
        /// The hive file (a working copy under the scratch directory, or the image's own for `--dir`).
        path: PathBuf,
        /// The hive layer's error.
        #[source]
        source: crate::hive::Error,
    },
    /// A registry hive inside the image is unusable (corrupt, too large …); the image is named, the
    /// hive by its path in the image.
    #[error("{target}: registry hive {hive} is unusable: {source}")]
    ImageHive {
        /// The WIM image or directory.
        target: String,
        /// `Windows\System32\config\SOFTWARE` …
        hive: &'static str,
        /// The hive layer's error (it names the working copy); boxed, it is large.
        #[source]
        source: Box<crate::hive::Error>,
    },
    /// A package could not be read or failed verification (corrupt cab, bad XML, digest mismatch …).
    #[error(transparent)]
    Package(#[from] cbs::package::Error),
    /// A delta-compressed payload could not be expanded (or its expansion failed its hash).
    #[error(transparent)]
    Expand(#[from] cbs::delta::ExpandError),
    /// A payload of a PSF express package could not be read from its `.psf`, is stored in an
    /// unsupported format (PA19, a PA31 codec not implemented), or failed its hash.
    #[error(transparent)]
    Psf(#[from] cbs::psf::PsfError),
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// The target does not look like an offline Windows installation.
    #[error("{target}: not an offline Windows image: {missing} is missing")]
    NotWindows {
        /// The WIM image or directory.
        target: String,
        /// The path that is missing.
        missing: String,
    },
    /// A package's sub-package or component-dependency graph loops back on itself: refused, with the
    /// loop named, before anything is staged.
    #[error("{package}: {graph} cycle {cycle}: refused")]
    Cycle {
        /// The package.
        package: String,
        /// `sub-package` or `component dependency`.
        graph: &'static str,
        /// The loop, `a -> b -> a`.
        cycle: String,
    },
    /// A package's sub-package or component-dependency chain is deeper than the walk follows (it is
    /// walked without recursion, but a chain this long is no real package).
    #[error("{package}: {graph} chain deeper than {max} levels at {at}: refused")]
    TooDeep {
        /// The package.
        package: String,
        /// `sub-package` or `component dependency`.
        graph: &'static str,
        /// The limit.
        max: usize,
        /// Where the limit was passed.
        at: String,
    },
    /// A package names a file, manifest or sub-package that it does not contain.
    #[error("{package}: {what} {name} is named by the package but is not in it")]
    Missing {
        /// The package.
        package: String,
        /// `sub-package manifest`, `component manifest` …
        what: &'static str,
        /// What is missing.
        name: String,
    },
    /// A PSF express package (its cab holds `express.psf.cix.xml`) whose `.psf` is not beside it.
    #[error("{package}: a PSF express package, but its payload file {expected} was not found (keep the .psf beside the cab, with the same name)")]
    PsfMissing {
        /// The package.
        package: String,
        /// The `.psf` looked for.
        expected: String,
    },
    /// A PSFX payload (forward, reverse or null differential) could not be hydrated into the file
    /// its manifest names: the RTM base is missing or differs, a differential is corrupt, or the
    /// result fails the manifest's digest. Nothing was written to the image.
    #[error("{package}: component {component}: file {file}: {reason}; the image was not changed")]
    Hydration {
        /// The package.
        package: String,
        /// The component's key form.
        component: String,
        /// The file.
        file: String,
        /// What went wrong.
        reason: String,
    },
    /// A manifest asks for a file name or destination that would leave the image tree.
    #[error("{package}: manifest {manifest}: unsafe file path {path:?}: {reason}")]
    UnsafePath {
        /// The package.
        package: String,
        /// The component manifest.
        manifest: String,
        /// The offending path.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// A component's registry data cannot be written: a key the root mapping refuses, a value that
    /// does not decode as its type, a hive the image lacks.
    #[error("{package}: manifest {manifest}: registry key {key}: {reason}; nothing was written")]
    Registry {
        /// The package.
        package: String,
        /// The component manifest.
        manifest: String,
        /// The key as the manifest names it.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The input is not a package wimpatch can apply (an .exe, .msi, Defender cab …); the message holds
    /// ConfigMgr's wording.
    #[error("{package}: Not applying this update binary, it is not supported: {reason}")]
    NotSupported {
        /// The input.
        package: String,
        /// Why.
        reason: String,
    },
    /// A package input path that does not exist or cannot be listed.
    #[error("{}: {reason}", path.display())]
    BadInput {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The image has pending operations; component cleanup is refused (DISM fails there too).
    #[error("{target}: the image has pending operations ({what}); component cleanup is refused, as DISM refuses it: boot the image once (or remove the pending packages) and clean up then. The image was not changed")]
    PendingOperations {
        /// The WIM image or directory.
        target: String,
        /// What is pending.
        what: String,
    },
    /// `/ResetBase` on an image whose `SideBySide\Configuration\DisableResetbase` is 1.
    #[error("{target}: the base reset is disabled for this image (HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\SideBySide\\Configuration\\DisableResetbase = 1). Run /StartComponentCleanup without /ResetBase, or set DisableResetbase to 0 in the image first. The image was not changed")]
    ResetBaseDisabled {
        /// The WIM image or directory.
        target: String,
    },
    /// `--remove-superseded` on an image with more than one index.
    #[error("{}: --remove-superseded needs a single-index image, and this WIM has {count} images (ConfigMgr's rule: cleanup and export apply to one image). Keep one first with `wimpatch reduce --image {} --keep <N|NAME>`, or use `wimpatch service --reduce-to <N|NAME>`. Nothing was changed", wim.display(), wim.display())]
    NeedsSingleIndex {
        /// The WIM.
        wim: PathBuf,
        /// Its image count.
        count: u32,
    },
    /// `service` on a multi-image WIM without saying which image: servicing index 1 silently would
    /// be a guess (DISM requires /Index or /Name).
    #[error("{}: the WIM has {count} images ({}); name the one to service with --index <N|NAME> (or keep one with --reduce-to). Nothing was changed", wim.display(), images.join(", "))]
    NeedsIndex {
        /// The WIM.
        wim: PathBuf,
        /// Its image count.
        count: u32,
        /// `index: name` of each image.
        images: Vec<String>,
    },
    /// The cancel flag was raised before the commit; nothing was changed.
    #[error("{target}: cancelled before anything was committed; the image is unchanged")]
    Cancelled {
        /// The WIM image or directory.
        target: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str) -> impl FnOnce(std::io::Error) -> Error {
        IoError::at(path, action)
    }

    /// Turns a hive error met while reading the image's own hive `hive` into one naming the image.
    pub(crate) fn in_image<'a>(target: &'a str, hive: &'static str) -> impl FnOnce(Error) -> Error + 'a {
        move |e| match e {
            Error::Hive { source, .. } => {
                Error::ImageHive { target: target.to_owned(), hive, source: Box::new(source) }
            }
            other => other,
        }
    }

    /// What errors call the working copy of the image's hive `hive` (`Windows\System32\config\
    /// SOFTWARE`) of `target`: the image and the hive's place in it, not the scratch copy, which is
    /// deleted by the time anyone reads the message.
    pub(crate) fn image_hive_name(target: &str, hive: &str) -> PathBuf {
        PathBuf::from(format!("{hive} in {target}"))
    }

    pub(crate) fn hive(path: impl Into<PathBuf>) -> impl FnOnce(crate::hive::Error) -> Error {
        let path = path.into();
        move |source| Error::Hive { path, source }
    }
}

/// Result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
