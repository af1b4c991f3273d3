//! The writing operations under test, as a table. Each row says which inputs a run copies, which
//! file holds the result, which files must stay byte-identical, and the command line. New writing
//! writing verbs join by adding a [`Kind`] and a row to [`OPERATIONS`].

use std::path::{Path, PathBuf};

use super::inputs::Inputs;
use super::state::Probe;

/// Which writing verb a row exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `add-package --image` of a large cumulative update into image 1 (the commit appends).
    AddPackage,
    /// `add-package --dir` of the same update into image 1 of `win10` applied to a folder (the
    /// commit is a journaled transaction the next reader finishes or discards).
    AddPackageDir,
    /// `reduce --keep` in place (rebuild through a temp file and rename).
    Reduce,
    /// `export-image` to a file that does not exist yet (written beside it, renamed into place).
    ExportNew,
    /// `export-image` appending to an existing WIM (the header is written last).
    ExportAppend,
    /// `optimize` of a WIM with holes (rebuild).
    Optimize,
    /// `delete-image` (rebuild).
    DeleteImage,
    /// `cleanup-image --start-component-cleanup` of an image with a superseded update (the commit
    /// appends).
    Cleanup,
    /// `service --reduce-to 1 --remove-superseded` with the large update: reduce, apply, clean up,
    /// and export into a new WIM that replaces the original.
    Service,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// The name in the report.
    pub name: &'static str,
    /// What it runs.
    pub kind: Kind,
    /// How to read the result's state.
    pub probe: Probe,
    /// Whether running it again on its own new state is valid (a second `delete-image` of the same
    /// index is not: there the next writer is `optimize`).
    pub rerunnable: bool,
    /// Whether running it again on its new state leaves that state as it is (a second append does
    /// not).
    pub idempotent: bool,
    /// A known wimpatch bug that makes its next writer fail to recover: such failures are listed
    /// as known, not failed on (corruption always fails).
    pub known_bug: Option<&'static str>,
}

/// Every writing operation, in report order.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        name: "add-package (commit)",
        kind: Kind::AddPackage,
        probe: Probe { size: false, packages_of: Some(1) },
        rerunnable: true,
        idempotent: true,
        known_bug: None,
    },
    Operation {
        name: "add-package --dir (commit)",
        kind: Kind::AddPackageDir,
        probe: Probe { size: false, packages_of: Some(1) },
        rerunnable: true,
        idempotent: true,
        known_bug: None,
    },
    Operation {
        name: "reduce (in place)",
        kind: Kind::Reduce,
        probe: Probe { size: false, packages_of: None },
        rerunnable: true,
        idempotent: true,
        known_bug: None,
    },
    Operation {
        name: "export-image (new file)",
        kind: Kind::ExportNew,
        probe: Probe { size: false, packages_of: None },
        rerunnable: false,
        idempotent: false,
        known_bug: None,
    },
    Operation {
        name: "export-image (append)",
        kind: Kind::ExportAppend,
        probe: Probe { size: false, packages_of: None },
        rerunnable: false,
        idempotent: false,
        known_bug: None,
    },
    Operation {
        name: "optimize",
        kind: Kind::Optimize,
        probe: Probe { size: true, packages_of: None },
        rerunnable: true,
        idempotent: true,
        known_bug: None,
    },
    Operation {
        name: "delete-image",
        kind: Kind::DeleteImage,
        probe: Probe { size: false, packages_of: None },
        rerunnable: false,
        idempotent: true,
        known_bug: None,
    },
    Operation {
        name: "cleanup-image",
        kind: Kind::Cleanup,
        probe: Probe { size: false, packages_of: Some(1) },
        rerunnable: true,
        idempotent: true,
        known_bug: None,
    },
    Operation {
        name: "service",
        kind: Kind::Service,
        probe: Probe { size: false, packages_of: Some(1) },
        rerunnable: true,
        idempotent: false,
        known_bug: None,
    },
];

/// One run's files: the command, the file whose state is checked, and the files it must not change.
#[derive(Debug, Clone)]
pub struct Case {
    /// wimpatch's arguments.
    pub args: Vec<String>,
    /// The file (or, for `--dir`, the folder) that ends in the old or the new state.
    pub wim: PathBuf,
    /// Inputs the operation only reads.
    pub untouched: Vec<PathBuf>,
    /// The scratch folder passed with `--scratch-dir`.
    pub scratch: PathBuf,
}

fn copy(from: &Path, dir: &Path) -> Result<PathBuf, String> {
    let to = dir.join(from.file_name().expect("input file name"));
    std::fs::copy(from, &to).map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))?;
    Ok(to)
}

fn s(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_owned()
}

impl Operation {
    /// Copies this operation's inputs into the empty folder `dir` and returns the run's files.
    pub fn prepare(&self, inputs: &Inputs, dir: &Path) -> Result<Case, String> {
        let scratch = dir.join("scratch");
        std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
        let common = ["--no-progress".to_owned(), "--scratch-dir".to_owned(), s(&scratch)];
        let (verb, wim, untouched): (Vec<String>, PathBuf, Vec<PathBuf>) = match self.kind {
            Kind::AddPackage => {
                let wim = copy(&inputs.win10, dir)?;
                let cab = copy(&inputs.lcu, dir)?;
                let logs = dir.join("logs");
                let args = ["add-package", "--image", &s(&wim), "--index", "1", "--package-path", &s(&cab)];
                let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                v.extend(["--log-dir".to_owned(), s(&logs)]);
                (v, wim, vec![cab])
            }
            Kind::AddPackageDir => {
                let tree = dir.join("tree");
                std::fs::create_dir_all(&tree).map_err(|e| e.to_string())?;
                super::state::apply_image(&inputs.win10, 1, &tree)?;
                let cab = copy(&inputs.lcu, dir)?;
                let logs = dir.join("logs");
                let args = ["add-package", "--dir", &s(&tree), "--package-path", &s(&cab), "--log-dir", &s(&logs)];
                (args.iter().map(|a| a.to_string()).collect(), tree, vec![cab])
            }
            Kind::Reduce => {
                let wim = copy(&inputs.bulk, dir)?;
                (
                    vec!["reduce".into(), "--image".into(), s(&wim), "--keep".into(), "Windows 10 Professional".into()],
                    wim,
                    vec![],
                )
            }
            Kind::ExportNew | Kind::ExportAppend => {
                let source = dir.join("source.wim");
                std::fs::copy(&inputs.bulk, &source).map_err(|e| e.to_string())?;
                let dest = if self.kind == Kind::ExportNew { dir.join("new.wim") } else { copy(&inputs.one, dir)? };
                let args = ["export-image", "--source", &s(&source), "--index", "3", "--dest", &s(&dest)];
                (args.iter().map(|a| a.to_string()).collect(), dest, vec![source])
            }
            Kind::Optimize => {
                let wim = copy(&inputs.holey, dir)?;
                (vec!["optimize".into(), "--image".into(), s(&wim)], wim, vec![])
            }
            Kind::Cleanup => {
                let wim = copy(&inputs.superseded, dir)?;
                let args = ["cleanup-image", "--image", &s(&wim), "--index", "1", "--start-component-cleanup"];
                let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                v.extend(["--log-dir".to_owned(), s(&dir.join("logs"))]);
                (v, wim, vec![])
            }
            Kind::Service => {
                let wim = copy(&inputs.win10, dir)?;
                let cab = copy(&inputs.lcu, dir)?;
                let args = ["service", "--image", &s(&wim), "--reduce-to", "1", "--package-path", &s(&cab)];
                let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                v.extend(["--remove-superseded".to_owned(), "--log-dir".to_owned(), s(&dir.join("logs"))]);
                (v, wim, vec![cab])
            }
            Kind::DeleteImage => {
                let wim = copy(&inputs.bulk, dir)?;
                (vec!["delete-image".into(), "--image".into(), s(&wim), "--index".into(), "2".into()], wim, vec![])
            }
        };
        let mut args = verb;
        args.extend(common);
        Ok(Case { args, wim, untouched, scratch })
    }

    /// The next writer after a kill that left the new state: the operation itself where that is
    /// valid, else `optimize` of the same file (it takes the same lock and sweeps the same debris).
    /// A second export is not valid: the image name is taken.
    pub fn next_writer(&self, case: &Case, state_is_new: bool) -> Vec<String> {
        if self.rerunnable || !state_is_new {
            return case.args.clone();
        }
        let mut v = vec!["optimize".to_owned(), "--image".to_owned(), s(&case.wim)];
        v.extend(["--no-progress".to_owned(), "--scratch-dir".to_owned(), s(&case.scratch)]);
        v
    }
}
