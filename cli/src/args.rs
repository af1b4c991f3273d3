//! Command-line syntax (clap derive). DISM and ConfigMgr words where they exist.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use servicing::wim::{Compression, ImageRef};

/// Offline servicing of Windows images (WIM/ESD) on Linux.
///
/// Exit status: 0 success (every package installed, already installed or superseded), 1 failure (the
/// message on stderr names the file and the problem; also when no package applies to the image,
/// DISM's 0x800f081e, or when none was applied because they failed), 2 usage error, 3 partial success
/// (`--continue-on-error`: some packages applied, others failed or not supported), 130 interrupted
/// (Ctrl-C; the image is left as it was).
#[derive(Debug, Parser)]
#[command(name = "wimpatch", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options for every verb (shown under their own heading in every command's help).
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// More diagnostics on stderr (-v info, -vv debug, -vvv trace). RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// No progress bars.
    #[arg(long, global = true, env = "WIMPATCH_NO_PROGRESS", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_progress: bool,
    /// Wait up to this many seconds for another writer of the same WIM instead of failing at once.
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 0)]
    pub wait_lock: u64,
    /// Scratch directory (the help text names the per-user default; see `help::command`).
    #[arg(long, global = true, env = "WIMPATCH_SCRATCH_DIR", value_name = "DIR")]
    pub scratch_dir: Option<PathBuf>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the WIM header and every image (DISM /Get-ImageInfo).
    Info {
        /// The WIM file.
        wim: PathBuf,
    },
    /// Copy one image into another WIM, creating it or appending to it (DISM /Export-Image).
    ExportImage(ExportArgs),
    /// Delete one image and rebuild the file so it shrinks (DISM /Delete-Image).
    DeleteImage {
        /// The WIM file.
        #[arg(long, value_name = "WIM")]
        image: PathBuf,
        /// Image index (1-based) or name.
        #[arg(long, value_name = "N|NAME")]
        index: ImageRef,
    },
    /// Keep one image, drop the others, and rebuild so the file really shrinks.
    Reduce {
        /// The WIM file.
        #[arg(long, value_name = "WIM")]
        image: PathBuf,
        /// The image to keep: index (1-based) or name.
        #[arg(long, value_name = "N|NAME")]
        keep: ImageRef,
        /// Write the result here instead of replacing the source. An existing file is refused unless
        /// --force (export-image, by contrast, appends to an existing WIM, as DISM /Export-Image does).
        #[arg(long, value_name = "WIM")]
        dest: Option<PathBuf>,
        /// With --dest: replace an existing destination file.
        #[arg(long, requires = "dest")]
        force: bool,
    },
    /// Rebuild a WIM to reclaim the space that appends leave behind (wimoptimize).
    Optimize {
        /// The WIM file.
        #[arg(long, value_name = "WIM")]
        image: PathBuf,
        /// Recompress all data (slower; can shrink further).
        #[arg(long)]
        recompress: bool,
    },
    /// Check the metadata of every image and the hash of every blob.
    Verify {
        /// The WIM file.
        wim: PathBuf,
    },
    /// Mount an image on an empty directory for editing (DISM /Mount-Image). Needs FUSE.
    Mount(MountArgs),
    /// Unmount an image, committing or discarding the changes (DISM /Unmount-Image).
    Unmount(UnmountArgs),
    /// Install CBS update packages into an offline image (DISM /Add-Package), without mounting.
    AddPackage(AddPackageArgs),
    /// List the packages of an offline image with state, release type, KB and install time (DISM
    /// /Get-Packages).
    GetPackages(GetPackagesArgs),
    /// Component store cleanup (DISM /Cleanup-Image /StartComponentCleanup [/ResetBase]) or its analysis
    /// (/AnalyzeComponentStore).
    CleanupImage(CleanupArgs),
    /// Apply packages, then optionally clean up (ResetBase) and export into a new WIM that replaces the
    /// original: ConfigMgr's scheduled offline servicing with "Remove superseded updates".
    Service(ServiceArgs),
    /// Read CBS update packages (.cab, .msu, a package folder, or a folder of them).
    #[command(subcommand)]
    Package(PackageCommand),
    /// Read, apply, create and reverse MSDelta deltas (PA30/PA31, with or without a CRC32 prefix).
    #[command(subcommand)]
    Delta(DeltaCommand),
    /// Compressed (DCM) WinSxS manifests.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// The site: update catalog, content library, OS images, scheduled servicing and distribution
    /// points (ConfigMgr's offline servicing of OS images).
    Site(SiteArgs),
    /// DISM's syntax, e.g. `wimpatch dism /Image:DIR /Add-Package /PackagePath:X.cab` or `wimpatch dism
    /// /Get-ImageInfo /ImageFile:install.wim`, run as the native verb (`wimpatch dism /?` lists the
    /// mapping). Option names are case-insensitive; wimpatch's own options go before `dism`.
    Dism {
        /// DISM options: /Get-ImageInfo, /Export-Image, /Add-Package, /Get-Packages, /Cleanup-Image,
        /// /Mount-Image, /Unmount-Image with /Image:, /ImageFile:, /Index:, /PackagePath: …
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "DISM-OPTION")]
        args: Vec<String>,
    },
    /// Print the completion script of a shell on stdout, e.g. `wimpatch completions bash >
    /// /usr/share/bash-completion/completions/wimpatch`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write one man page per command and subcommand (wimpatch.1, wimpatch-add-package.1 …) into DIR
    /// (created if missing).
    Manpages {
        /// The folder, e.g. /usr/local/share/man/man1.
        dir: PathBuf,
    },
    /// Internal: the helper process that performs a mount (wimlib's mount exits its caller).
    #[command(hide = true)]
    MountHelper(MountArgs),
}

/// `export-image` options.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Source WIM.
    #[arg(long, value_name = "WIM")]
    pub source: PathBuf,
    /// Source image: index (1-based) or name.
    #[arg(long, value_name = "N|NAME")]
    pub index: ImageRef,
    /// Destination WIM: created, or appended to if it is an existing WIM (as DISM /Export-Image does);
    /// any other existing file is refused and left as it is.
    #[arg(long, value_name = "WIM")]
    pub dest: PathBuf,
    /// Compression of a new destination (default: the source's).
    #[arg(long, value_name = "none|xpress|lzx|lzms")]
    pub compress: Option<Compression>,
    /// Name for the exported image (default: the source image's name).
    #[arg(long, value_name = "NAME")]
    pub dest_name: Option<String>,
    /// Write an integrity table.
    #[arg(long)]
    pub check_integrity: bool,
}

/// `mount` options.
#[derive(Debug, Args, Clone)]
pub struct MountArgs {
    /// The WIM file.
    #[arg(long, value_name = "WIM")]
    pub image: PathBuf,
    /// Image index (1-based) or name.
    #[arg(long, value_name = "N|NAME")]
    pub index: ImageRef,
    /// An existing, empty directory.
    #[arg(long, value_name = "DIR")]
    pub mount_dir: PathBuf,
    /// Mount read-only (changes cannot be committed).
    #[arg(long)]
    pub read_only: bool,
}

/// `unmount` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["commit", "discard"])))]
pub struct UnmountArgs {
    /// The mount directory.
    #[arg(long, value_name = "DIR")]
    pub mount_dir: PathBuf,
    /// Save the changes into the WIM.
    #[arg(long)]
    pub commit: bool,
    /// Throw the changes away.
    #[arg(long)]
    pub discard: bool,
    /// With --commit: close files still open in the mount instead of failing.
    #[arg(long)]
    pub force: bool,
}

/// `package` verbs.
#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Identity, KB, release type, parents, sub-packages, components and digest status of a package
    /// (DISM /Get-PackageInfo, for .msu too).
    Info {
        /// A .cab, .msu, an extracted package folder, or a folder of packages.
        path: PathBuf,
        /// List every registry value of every component with the hive path it is written to (on an
        /// image of the package's architecture), its decoded data, or why it cannot be written.
        #[arg(long)]
        registry: bool,
    },
    /// Write the verified payload tree of a package to a new folder: <key form>/<file> for every
    /// component payload, the manifests, .mum and .cat files at the root (an MSU with several inner
    /// packages: one subfolder each). Every payload is checked against its manifest's SHA-256 before
    /// the folder is put in place; on any failure nothing is left at DEST.
    Extract {
        /// A .cab, .msu (cab or WIM form), or an extracted package folder.
        path: PathBuf,
        /// The folder to create (it must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        dest: PathBuf,
    },
}

/// `delta` verbs.
#[derive(Debug, Subcommand)]
pub enum DeltaCommand {
    /// Magic, version, file type set and type, flags by name, target size, hash, codec, CRC prefix.
    Info {
        /// The delta file.
        delta: PathBuf,
    },
    /// Apply a delta (ApplyDeltaB); the target hash in the delta is checked before OUT is written.
    Apply {
        /// The delta file.
        delta: PathBuf,
        /// The file the delta was made against (none: the null source).
        #[arg(long, value_name = "FILE")]
        source: Option<PathBuf>,
        /// Where to write the result (replaced only on success; a symlink there is replaced, never
        /// followed).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Create a RAW delta from SOURCE to TARGET (CreateDeltaB).
    Create {
        /// The old file.
        #[arg(long, value_name = "FILE")]
        source: PathBuf,
        /// The new file.
        #[arg(long, value_name = "FILE")]
        target: PathBuf,
        /// Where to write the delta.
        #[arg(long, value_name = "DELTA")]
        out: PathBuf,
        /// Delta format.
        #[arg(long, value_enum, default_value = "pa30")]
        format: DeltaFormatArg,
        /// Target hash to embed.
        #[arg(long, value_enum, default_value = "sha256")]
        hash: DeltaHashArg,
    },
    /// Apply a forward delta to SOURCE and write the reverse delta (new file back to SOURCE), the
    /// form of a WinSxS `r\` differential.
    Reverse {
        /// The forward delta.
        delta: PathBuf,
        /// The old file the forward delta applies to.
        #[arg(long, value_name = "FILE")]
        source: PathBuf,
        /// Where to write the reverse delta.
        #[arg(long, value_name = "REVERSE")]
        out: PathBuf,
        /// Also write the new file (the forward delta's result) here.
        #[arg(long, value_name = "FILE")]
        target: Option<PathBuf>,
    },
}

/// `delta create --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeltaFormatArg {
    /// msdelta.dll's format.
    Pa30,
    /// UpdateCompression.dll's format.
    Pa31,
}

/// `delta create --hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeltaHashArg {
    /// SHA-256 of the target (CALG_SHA_256).
    Sha256,
    /// No target hash.
    None,
}

/// `manifest` verbs.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Decode compressed (DCM) manifests to XML; each is checked by parsing it and computing its
    /// key form. One manifest without --out-dir is printed to stdout.
    #[command(group(clap::ArgGroup::new("base_source").required(true).args(["base", "wcp_dll", "image"])))]
    Decode {
        /// The manifests.
        #[arg(required = true)]
        manifests: Vec<PathBuf>,
        /// The base manifest, as a file (for a DCD manifest: the source file its delta was made from).
        #[arg(long, value_name = "FILE")]
        base: Option<PathBuf>,
        /// A servicing-stack wcp.dll holding the base (resource type 0x266, id 1).
        #[arg(long, value_name = "FILE")]
        wcp_dll: Option<PathBuf>,
        /// A WIM whose servicing-stack wcp.dll holds the base.
        #[arg(long, value_name = "WIM")]
        image: Option<PathBuf>,
        /// Image index (1-based) or name, with --image.
        #[arg(long, value_name = "N|NAME", default_value = "1", requires = "image")]
        index: ImageRef,
        /// Write each manifest as <name>.xml into this folder (created if missing).
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

/// Which image to service: a WIM image (no mount) or an offline Windows directory.
#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["image", "dir"])))]
pub struct TargetArgs {
    /// The WIM file (serviced without mounting; needs --index).
    #[arg(long, value_name = "WIM", requires = "index")]
    pub image: Option<PathBuf>,
    /// Image index (1-based) or name.
    #[arg(long, value_name = "N|NAME", requires = "image")]
    pub index: Option<ImageRef>,
    /// A directory holding an offline Windows tree (a mount, or an applied image), changed in place.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["image", "index"])]
    pub dir: Option<PathBuf>,
}

/// `add-package` options.
#[derive(Debug, Args)]
pub struct AddPackageArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// A .cab, .msu, a package folder, or a folder of packages; several after one flag, or the flag
    /// repeated. Servicing stack updates go first, checkpoint cumulative updates in order, the rest
    /// as given.
    #[arg(long = "package-path", value_name = "PATH", required = true, num_args = 1..)]
    pub package_path: Vec<PathBuf>,
    /// Go on when a package fails or is not supported; exit status 3 then reports partial success.
    #[arg(long)]
    pub continue_on_error: bool,
    /// Report what would be applied or skipped and why; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where OfflineServicingMgr.log and dism.log go (default: <scratch>/OfflineImageServicing/logs).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// The Windows folder the image is deployed to, for `$(runtime.*)` paths in component registry
    /// values (default: C:\Windows).
    #[arg(long, value_name = "PATH")]
    pub windir: Option<String>,
}

/// `get-packages` options.
#[derive(Debug, Args)]
pub struct GetPackagesArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Also list hidden packages (the sub-packages updates bring; DISM hides them).
    #[arg(long)]
    pub all: bool,
    /// Also list each package's components with the number of registry values their manifests
    /// carry (reads the manifests from WinSxS\Manifests).
    #[arg(long)]
    pub components: bool,
}

/// `cleanup-image` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["start_component_cleanup", "analyze_component_store"])))]
pub struct CleanupArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Remove superseded component versions and superseded packages (/StartComponentCleanup).
    #[arg(long)]
    pub start_component_cleanup: bool,
    /// With --start-component-cleanup: also make every installed package permanent (/ResetBase).
    #[arg(long, requires = "start_component_cleanup")]
    pub reset_base: bool,
    /// Report the component store's size and whether a cleanup is recommended (/AnalyzeComponentStore).
    #[arg(long, conflicts_with = "start_component_cleanup")]
    pub analyze_component_store: bool,
    /// Where dism.log goes (default: <scratch>/OfflineImageServicing/logs).
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
}

/// `service` options.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The WIM file.
    #[arg(long, value_name = "WIM")]
    pub image: PathBuf,
    /// Image index (1-based) or name; required when the WIM has more than one image (as DISM's
    /// /Index or /Name). With --reduce-to, the kept image is serviced.
    #[arg(long, value_name = "N|NAME", conflicts_with = "reduce_to")]
    pub index: Option<ImageRef>,
    /// Packages: .cab, .msu, package folders, or folders of them; several after one flag, or the flag
    /// repeated.
    #[arg(long = "package-path", value_name = "PATH", required = true, num_args = 1..)]
    pub package_path: Vec<PathBuf>,
    /// After applying: StartComponentCleanup + ResetBase, then export into a new WIM replacing the
    /// original. Single-index images only (see --reduce-to).
    #[arg(long)]
    pub remove_superseded: bool,
    /// Keep only this image first (reduce on import), so a multi-index WIM can be optimized in one run.
    #[arg(long, value_name = "N|NAME")]
    pub reduce_to: Option<ImageRef>,
    /// Go on when a package fails or is not supported (exit status 3 reports partial success).
    #[arg(long)]
    pub continue_on_error: bool,
    /// Compression of the rewritten WIM.
    #[arg(long, value_name = "none|xpress|lzx|lzms")]
    pub compress: Option<Compression>,
    /// Where OfflineServicingMgr.log and dism.log go.
    #[arg(long, value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
}

/// `site` options.
#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The site directory (created by `site init`).
    #[arg(long, global = true, env = "WIMPATCH_SITE", value_name = "DIR")]
    pub site: Option<PathBuf>,
    #[command(subcommand)]
    pub command: SiteCommand,
}

/// `site` verbs.
#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Create the site (database, content library, logs, scratch), or bring an existing one up to date.
    Init {
        /// A PostgreSQL database shared by runners on several hosts (postgresql://user@host:port/db),
        /// instead of the embedded SQLite file; chosen once, at the site's first init.
        #[arg(long, env = "WIMPATCH_SITE_DATABASE", value_name = "URL")]
        database: Option<String>,
    },
    /// The update catalog.
    #[command(subcommand)]
    Catalog(SiteCatalogCommand),
    /// OS images.
    #[command(subcommand)]
    Image(SiteImageCommand),
    /// Catalog updates applicable to an image and not yet applied (the Schedule Updates wizard's list).
    Updates {
        /// The site's image ID (`site image list`).
        #[arg(long = "image-id", alias = "image", value_name = "ID")]
        image: i64,
        /// Only updates whose metadata (KB, title, classification, product, file name …) contains this.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
        /// Architecture of the updates listed.
        #[arg(long, value_name = "x86|x64|all", default_value = "all")]
        arch: servicing::site::images::ArchFilter,
    },
    /// Schedule servicing of an image (one active schedule per image; a new one replaces the pending one).
    Schedule(SiteScheduleArgs),
    /// Cancel an image's servicing: an In Process run stops at the next safe point (the image stays as
    /// it was); a pending schedule is removed.
    Cancel {
        /// The site's image ID (`site image list`).
        #[arg(long = "image-id", alias = "image", value_name = "ID")]
        image: i64,
    },
    /// One pass: close runs of runners that died, then run every due job, and exit (for cron or a
    /// systemd timer).
    Tick,
    /// Run due jobs until stopped (SIGTERM or Ctrl-C stop it at a safe point).
    Run,
    /// Distribution points.
    #[command(subcommand)]
    Dp(SiteDpCommand),
    /// Send an image's current content version to every distribution point (rsync's delta transfer
    /// for rsync and ssh DPs, a verified copy for directories).
    Distribute {
        /// The site's image ID (`site image list`).
        #[arg(long = "image-id", alias = "image", value_name = "ID")]
        image: i64,
    },
    /// Serve the read-only status page (images, Installed Updates, schedules, runs, DPs, a chart of
    /// size and updates per content version) over HTTP until stopped (Ctrl-C or SIGTERM).
    Serve {
        /// Address and port to listen on (loopback unless told otherwise; port 0 picks a free one).
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
    },
    /// Write the status pages as static HTML files.
    Report {
        /// The folder to write index.html and image-<ID>.html into (created if missing).
        #[arg(long, value_name = "DIR")]
        html: PathBuf,
    },
}

/// `site catalog` verbs.
#[derive(Debug, Subcommand)]
pub enum SiteCatalogCommand {
    /// Scan a folder tree of update binaries into the catalog and the content library (incremental:
    /// files whose size and time are unchanged are not read again).
    Sync {
        /// The folder.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// Re-hash every content-library blob of this folder's updates (unchanged files too) and
        /// store corrupt or missing ones again from the folder.
        #[arg(long)]
        verify: bool,
    },
    /// List the catalog.
    List {
        /// Only updates whose metadata contains this.
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
    },
    /// Remove updates from the catalog and their binaries from the content library (refused while a
    /// pending or running job selected one; the next sync of a folder still holding the file adds
    /// it again).
    Remove {
        /// KB numbers or catalog IDs.
        #[arg(value_name = "KB|ID", required = true, num_args = 1..)]
        updates: Vec<String>,
    },
}

/// `site image` verbs.
#[derive(Debug, Subcommand)]
pub enum SiteImageCommand {
    /// Copy a WIM into the site and record its editions and installed updates.
    Import {
        /// The WIM.
        wim: PathBuf,
        /// With --single-index: the index (1-based) or name to keep (default 1).
        #[arg(long, value_name = "N|NAME", requires = "single_index")]
        index: Option<ImageRef>,
        /// Keep only one index (smaller image, faster servicing; needed for --remove-superseded).
        #[arg(long)]
        single_index: bool,
    },
    /// Every image with ConfigMgr's columns.
    List,
    /// One image: editions, Installed Updates, the servicing schedule and its results, DPs.
    Show {
        /// Image ID.
        id: i64,
    },
    /// Remove an image: its content versions, schedules and run history, and its copies on directory
    /// DPs (refused while a run is pending or in process: cancel it first).
    Remove {
        /// Image ID.
        id: i64,
    },
    /// Make the previous content version kept on disk current again (as a new content version with
    /// its exact bytes).
    Rollback {
        /// Image ID.
        id: i64,
        /// Then send it to every distribution point.
        #[arg(long)]
        update_dps: bool,
    },
}

/// `site dp` verbs.
#[derive(Debug, Subcommand)]
pub enum SiteDpCommand {
    /// Add a distribution point: a local or mounted directory (`--path`), or a URL: `file:///dir`,
    /// `rsync://host[:port]/module/path` (an rsync daemon) or `ssh://[user@]host[:port]/path` (rsync
    /// over ssh, with the runner's ssh keys; `WIMPATCH_SSH` overrides the ssh command).
    #[command(group(clap::ArgGroup::new("where").required(true).args(["path", "url"])))]
    Add {
        /// Its name.
        name: String,
        /// Its directory (created if missing).
        #[arg(long, value_name = "DIR")]
        path: Option<PathBuf>,
        /// Its URL (file, rsync or ssh).
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Bandwidth limit for rsync and ssh DPs, in KiB/s (rsync's --bwlimit).
        #[arg(long, value_name = "KBPS", value_parser = clap::value_parser!(u32).range(1..))]
        bwlimit: Option<u32>,
    },
    /// Every distribution point with the content version it holds per image.
    List,
    /// Forget a distribution point (refused while a distribution to it runs); its files stay.
    Remove {
        /// Its name.
        name: String,
    },
}

/// `site schedule` options.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("when").required(true).args(["now", "at", "every"])))]
pub struct SiteScheduleArgs {
    /// The site's image ID (`site image list`).
    #[arg(long = "image-id", alias = "image", value_name = "ID")]
    pub image: i64,
    /// Updates: KB numbers, catalog IDs, or all-applicable (resolved again at each run).
    #[arg(long, value_name = "KB|ID|all-applicable", num_args = 1.., required = true)]
    pub updates: Vec<String>,
    /// Run as soon as a runner looks (`site tick`, or `site run` within seconds).
    #[arg(long)]
    pub now: bool,
    /// Run once at this time (RFC 3339, e.g. 2026-11-10T02:00:00Z).
    #[arg(long, value_name = "RFC3339", value_parser = checked(servicing::site::schedule::When::parse_at))]
    pub at: Option<String>,
    /// Run repeatedly: monthly:second-tuesday@02:00 (UTC) or a five-field cron expression.
    #[arg(long, value_name = "RECURRENCE", value_parser = checked(servicing::site::schedule::When::parse_every))]
    pub every: Option<String>,
    /// Go on with the other updates when one fails.
    #[arg(long)]
    pub continue_on_error: bool,
    /// Send the new version to every distribution point after a successful run.
    #[arg(long)]
    pub update_dps: bool,
    /// Remove superseded updates after the image is updated (StartComponentCleanup + ResetBase and
    /// export; single-index images only).
    #[arg(long)]
    pub remove_superseded: bool,
    /// Include binaries that are not CBS packages (.exe, .msi …): all-applicable leaves them out
    /// unless asked, and a named one is refused without this (each run logs them as not supported).
    #[arg(long)]
    pub include_not_supported: bool,
    /// Schedule named updates even though the engine's dry run says they cannot apply to the image
    /// (wrong product or architecture, unreadable file); logged in OfflineServicingMgr.log.
    #[arg(long)]
    pub force: bool,
}

/// A value parser that keeps the text but lets clap refuse it (a usage error, exit status 2) when
/// `parse` does, with `parse`'s words.
fn checked<T>(parse: fn(&str) -> Result<T, String>) -> impl Fn(&str) -> Result<String, String> + Clone {
    move |text| parse(text).map(|_| text.to_owned())
}
