//! `wimpatch dism …`: DISM's command-line spellings (`/Image:`, `/Add-Package`, `/PackagePath:` …)
//! translated into the native verbs' argument structs, so a DISM script ports line by line and runs
//! the very same code as the native verb. Option names are case-insensitive, as DISM's are.

use std::path::PathBuf;

use servicing::wim::{Compression, ImageRef};

use crate::args::{
    AddPackageArgs, CleanupArgs, Command, ExportArgs, GetPackagesArgs, MountArgs, TargetArgs, UnmountArgs,
};

/// The mapping, printed by `wimpatch dism /?` (the README carries the same table): DISM's command
/// line and the native verb it runs.
const MAPPING: &[(&str, &str)] = &[
    ("/Get-ImageInfo /ImageFile:WIM [/Index:N|/Name:NAME]", "info WIM (shows every image)"),
    (
        "/Export-Image /SourceImageFile:WIM /SourceIndex:N|/SourceName:NAME /DestinationImageFile:WIM \
         [/DestinationName:NAME] [/Compress:max|fast|none|recovery] [/CheckIntegrity]",
        "export-image --source WIM --index N --dest WIM [--dest-name] [--compress] [--check-integrity]",
    ),
    ("/Image:DIR", "--dir DIR (an offline Windows folder, changed in place)"),
    ("/ImageFile:WIM (or /WimFile:WIM) /Index:N|/Name:NAME", "--image WIM --index N|NAME (no mount)"),
    ("/Add-Package /PackagePath:PATH [/PackagePath:PATH …]", "add-package --package-path PATH…"),
    ("/Get-Packages", "get-packages"),
    ("/Cleanup-Image /StartComponentCleanup [/ResetBase]", "cleanup-image --start-component-cleanup [--reset-base]"),
    ("/Cleanup-Image /AnalyzeComponentStore", "cleanup-image --analyze-component-store"),
    (
        "/Mount-Image /ImageFile:WIM /Index:N|/Name:NAME /MountDir:DIR [/ReadOnly]",
        "mount --image WIM --index N --mount-dir DIR [--read-only]",
    ),
    ("/Unmount-Image /MountDir:DIR /Commit|/Discard", "unmount --mount-dir DIR --commit|--discard"),
    ("/LogPath:FILE", "--log-dir of FILE's folder (a path without an extension is the folder)"),
    ("/ScratchDir:DIR, /Quiet", "--scratch-dir DIR, -q"),
    ("/English, /NoRestart", "accepted; nothing to do offline"),
    ("/Online, any other option", "refused (exit status 2)"),
];

/// The `/?` text: one DISM line, then the wimpatch verb indented below it.
fn mapping_text() -> String {
    let mut s = String::from(
        "wimpatch dism runs DISM command lines as these wimpatch verbs (option names in any case;\n\
                              wimpatch's own options, such as --json or --wait-lock, go before `dism`):\n\n",
    );
    for (dism, native) in MAPPING {
        s.push_str(dism);
        s.push_str("\n    -> ");
        s.push_str(native);
        s.push('\n');
    }
    s
}

/// What a DISM command line becomes: the native command, plus the global options it sets.
#[derive(Debug)]
pub struct Translated {
    pub command: Command,
    pub scratch_dir: Option<PathBuf>,
    pub quiet: bool,
}

/// Replaces a `dism …` command by the native command it means (`Ok(None)`: the mapping was asked
/// for with `/?` or no options, and printed). `Err` is a usage error.
pub fn rewrite(mut cli: crate::args::Cli) -> Result<Option<crate::args::Cli>, String> {
    let Command::Dism { args } = &cli.command else { return Ok(Some(cli)) };
    if args.is_empty() || args.iter().any(|a| a == "/?" || a == "-?") {
        print!("{}", mapping_text());
        return Ok(None);
    }
    let t = translate(args)?;
    if t.scratch_dir.is_some() {
        cli.global.scratch_dir = t.scratch_dir;
    }
    cli.global.quiet |= t.quiet;
    cli.command = t.command;
    Ok(Some(cli))
}

/// One `/Name` or `/Name:value` token, the name lower-cased.
#[derive(Debug)]
struct Opt {
    name: String,
    value: Option<String>,
    text: String,
    used: bool,
}

/// The parsed options of one DISM command line.
struct Opts(Vec<Opt>);

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut out = Vec::new();
        for a in args {
            let Some(body) = a.strip_prefix('/').or_else(|| a.strip_prefix('-')) else {
                return Err(format!("{a:?} is not a DISM option (they start with /, e.g. /Get-ImageInfo)"));
            };
            let (name, value) = match body.split_once(':') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            out.push(Opt { name: name.to_ascii_lowercase(), value, text: a.clone(), used: false });
        }
        Ok(Opts(out))
    }

    /// Whether the switch `name` is present (marks it used).
    fn flag(&mut self, name: &str) -> Result<bool, String> {
        let mut found = false;
        for o in self.0.iter_mut().filter(|o| o.name == name) {
            if o.value.is_some() {
                return Err(format!("{} takes no value", o.text));
            }
            o.used = true;
            found = true;
        }
        Ok(found)
    }

    /// Every value of `/name:value` (marks them used).
    fn values(&mut self, name: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for o in self.0.iter_mut().filter(|o| o.name == name) {
            match &o.value {
                Some(v) if !v.is_empty() => out.push(v.clone()),
                _ => return Err(format!("{} needs a value: /{}:…", o.text, canonical(name))),
            }
            o.used = true;
        }
        Ok(out)
    }

    /// The one value of `/name:value`, if given.
    fn value(&mut self, name: &str) -> Result<Option<String>, String> {
        let mut v = self.values(name)?;
        if v.len() > 1 {
            return Err(format!("/{} is given {} times", canonical(name), v.len()));
        }
        Ok(v.pop())
    }

    fn required(&mut self, name: &str, verb: &str) -> Result<String, String> {
        self.value(name)?.ok_or_else(|| format!("/{verb} needs /{}:…", canonical(name)))
    }

    /// The first of several spellings present (`/ImageFile:` or `/WimFile:`).
    fn value_of_any(&mut self, names: &[&str]) -> Result<Option<String>, String> {
        let mut found = None;
        for n in names {
            if let Some(v) = self.value(n)? {
                if found.is_some() {
                    return Err(format!("give only one of {}", spell(names)));
                }
                found = Some(v);
            }
        }
        Ok(found)
    }

    /// `/Index:N` or `/Name:NAME` (with these option names).
    fn image(&mut self, index: &str, name: &str) -> Result<Option<ImageRef>, String> {
        match (self.value(index)?, self.value(name)?) {
            (Some(_), Some(_)) => Err(format!("give /{} or /{}, not both", canonical(index), canonical(name))),
            (Some(i), None) => i.parse::<u32>().map(|i| Some(ImageRef::Index(i))).map_err(|_| {
                format!("/{}:{i} is not an image index (use /{}: for a name)", canonical(index), canonical(name))
            }),
            (None, Some(n)) => Ok(Some(ImageRef::Name(n))),
            (None, None) => Ok(None),
        }
    }

    /// The options nobody used, as an error.
    fn finish(&self) -> Result<(), String> {
        let unused: Vec<&str> = self.0.iter().filter(|o| !o.used).map(|o| o.text.as_str()).collect();
        if unused.is_empty() {
            Ok(())
        } else {
            Err(format!("not supported here: {} (see `wimpatch dism /?`)", unused.join(" ")))
        }
    }
}

/// DISM's capitalisation of an option name, for messages.
fn canonical(lower: &str) -> &str {
    const NAMES: &[&str] = &[
        "Image",
        "ImageFile",
        "WimFile",
        "Index",
        "Name",
        "SourceImageFile",
        "SourceIndex",
        "SourceName",
        "DestinationImageFile",
        "DestinationName",
        "Compress",
        "MountDir",
        "PackagePath",
        "LogPath",
        "ScratchDir",
    ];
    NAMES.iter().copied().find(|n| n.eq_ignore_ascii_case(lower)).unwrap_or(lower)
}

fn spell(names: &[&str]) -> String {
    names.iter().map(|n| format!("/{}:", canonical(n))).collect::<Vec<_>>().join(" or ")
}

const VERBS: &[&str] =
    &["get-imageinfo", "export-image", "add-package", "get-packages", "cleanup-image", "mount-image", "unmount-image"];

/// Translates a DISM command line (the words after `wimpatch dism`). `Err` is a usage error.
pub fn translate(args: &[String]) -> Result<Translated, String> {
    let mut o = Opts::parse(args)?;
    if o.0.iter().any(|x| x.name == "online") {
        return Err("/Online is not supported: wimpatch services offline images (/Image:DIR or /ImageFile:WIM)".into());
    }
    let verbs: Vec<String> = o.0.iter().filter(|x| VERBS.contains(&x.name.as_str())).map(|x| x.name.clone()).collect();
    let verb = match verbs.as_slice() {
        [v] => v.clone(),
        [] => return Err("no DISM command given (e.g. /Get-ImageInfo, /Add-Package; see `wimpatch dism /?`)".into()),
        more => return Err(format!("one DISM command at a time, not {}", more.join(" and "))),
    };
    o.flag(&verb)?;
    let scratch_dir = o.value("scratchdir")?.map(PathBuf::from);
    let quiet = o.flag("quiet")?;
    // Accepted, without effect offline: DISM's English output and its "do not reboot".
    o.flag("english")?;
    o.flag("norestart")?;
    let log_dir = o.value("logpath")?.map(|p| log_dir_of(PathBuf::from(p)));
    let command = match verb.as_str() {
        "get-imageinfo" => {
            let wim = o.value_of_any(&["imagefile", "wimfile"])?.ok_or("/Get-ImageInfo needs /ImageFile:WIM")?;
            // DISM shows one image with /Index or /Name; wimpatch's info shows them all, the one included.
            o.image("index", "name")?;
            Command::Info { wim: wim.into() }
        }
        "export-image" => {
            let source = o.required("sourceimagefile", "Export-Image")?;
            let index = o
                .image("sourceindex", "sourcename")?
                .ok_or("/Export-Image needs /SourceIndex:N or /SourceName:NAME")?;
            let dest = o.required("destinationimagefile", "Export-Image")?;
            let compress = match o.value("compress")? {
                Some(c) => Some(c.parse::<Compression>()?),
                None => None,
            };
            Command::ExportImage(ExportArgs {
                source: source.into(),
                index,
                dest: dest.into(),
                compress,
                dest_name: o.value("destinationname")?,
                check_integrity: o.flag("checkintegrity")?,
            })
        }
        "add-package" => {
            let target = target(&mut o, "Add-Package")?;
            let package_path: Vec<PathBuf> = o.values("packagepath")?.into_iter().map(PathBuf::from).collect();
            if package_path.is_empty() {
                return Err("/Add-Package needs /PackagePath:PATH (repeat it for several)".into());
            }
            Command::AddPackage(AddPackageArgs {
                target,
                package_path,
                continue_on_error: false,
                dry_run: false,
                log_dir,
                windir: None,
            })
        }
        "get-packages" => Command::GetPackages(GetPackagesArgs {
            target: target(&mut o, "Get-Packages")?,
            all: false,
            components: false,
        }),
        "cleanup-image" => {
            let target = target(&mut o, "Cleanup-Image")?;
            let start = o.flag("startcomponentcleanup")?;
            let analyze = o.flag("analyzecomponentstore")?;
            let reset_base = o.flag("resetbase")?;
            match (start, analyze) {
                (true, true) => {
                    return Err("/StartComponentCleanup and /AnalyzeComponentStore are separate runs".into())
                }
                (false, false) => {
                    return Err(
                        "/Cleanup-Image needs /StartComponentCleanup [/ResetBase] or /AnalyzeComponentStore".into()
                    )
                }
                _ => {}
            }
            if reset_base && !start {
                return Err("/ResetBase goes with /StartComponentCleanup".into());
            }
            Command::CleanupImage(CleanupArgs {
                target,
                start_component_cleanup: start,
                reset_base,
                analyze_component_store: analyze,
                log_dir,
            })
        }
        "mount-image" => {
            let wim = o.value_of_any(&["imagefile", "wimfile"])?.ok_or("/Mount-Image needs /ImageFile:WIM")?;
            let index = o.image("index", "name")?.ok_or("/Mount-Image needs /Index:N or /Name:NAME")?;
            let mount_dir = o.required("mountdir", "Mount-Image")?;
            Command::Mount(MountArgs {
                image: wim.into(),
                index,
                mount_dir: mount_dir.into(),
                read_only: o.flag("readonly")?,
            })
        }
        "unmount-image" => {
            let mount_dir = o.required("mountdir", "Unmount-Image")?;
            let commit = o.flag("commit")?;
            let discard = o.flag("discard")?;
            if commit == discard {
                return Err("/Unmount-Image needs /Commit or /Discard (one of them)".into());
            }
            Command::Unmount(UnmountArgs { mount_dir: mount_dir.into(), commit, discard, force: false })
        }
        _ => unreachable!("every verb of VERBS is handled"),
    };
    o.finish()?;
    Ok(Translated { command, scratch_dir, quiet })
}

/// The image a servicing command works on: `/Image:DIR` (an offline Windows folder, as in DISM) or
/// `/ImageFile:WIM` / `/WimFile:WIM` with `/Index:` or `/Name:` (serviced without mounting).
fn target(o: &mut Opts, verb: &str) -> Result<TargetArgs, String> {
    let dir = o.value("image")?;
    let wim = o.value_of_any(&["imagefile", "wimfile"])?;
    let index = o.image("index", "name")?;
    match (dir, wim, index) {
        (Some(dir), None, None) => Ok(TargetArgs { image: None, index: None, dir: Some(dir.into()) }),
        (None, Some(wim), Some(index)) => Ok(TargetArgs { image: Some(wim.into()), index: Some(index), dir: None }),
        (None, Some(_), None) => Err(format!("/{verb} on /ImageFile: needs /Index:N or /Name:NAME")),
        (Some(_), Some(_), _) => Err("give /Image:DIR (an offline Windows folder) or /ImageFile:WIM, not both".into()),
        (Some(_), None, Some(_)) => Err("/Index and /Name go with /ImageFile:WIM; /Image:DIR is a folder".into()),
        (None, None, _) => {
            Err(format!("/{verb} needs /Image:DIR (an offline Windows folder) or /ImageFile:WIM /Index:N"))
        }
    }
}

/// DISM's `/LogPath:` names a log file; wimpatch writes its logs into a folder: the file's folder,
/// or the path itself when it has no extension.
fn log_dir_of(path: PathBuf) -> PathBuf {
    if path.extension().is_some() {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    } else {
        path
    }
}
