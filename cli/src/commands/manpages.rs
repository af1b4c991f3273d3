//! `wimpatch manpages DIR`: one man page (section 1) per command and subcommand (clap_mangen),
//! named as man expects them: `wimpatch.1`, `wimpatch-add-package.1`, `wimpatch-site-catalog-sync.1`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::Ctx;

pub fn manpages(ctx: &Ctx, dir: &Path) -> Result<()> {
    safe_fs::create_dir_all(dir).with_context(|| format!("{}: cannot create the folder", dir.display()))?;
    let mut cmd = crate::help::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(&cmd, dir, &mut written)?;
    written.sort();
    #[derive(serde::Serialize)]
    struct Pages<'a> {
        dir: &'a Path,
        pages: &'a [PathBuf],
    }
    ctx.print(&Pages { dir, pages: &written }, || {
        format!("Wrote {} man page(s) to {}.\n", written.len(), dir.display())
    })
}

/// Writes the page of `cmd` and of each visible subcommand below it.
fn write_pages(cmd: &clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir, written)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let mut page = Vec::new();
    man.render(&mut page)?;
    let path = dir.join(man.get_filename());
    safe_fs::write_atomic(&path, &page).with_context(|| format!("{}: cannot write", path.display()))?;
    written.push(path);
    Ok(())
}
