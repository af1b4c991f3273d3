//! mount / unmount, and the hidden helper verb that performs the mount in its own process.

use anyhow::Result;
use servicing::mount::{self, MountRequest};

use super::Ctx;
use crate::args::{MountArgs, UnmountArgs};

fn request(ctx: &Ctx, a: &MountArgs) -> Result<MountRequest> {
    Ok(MountRequest {
        wim: std::path::absolute(&a.image)?,
        image: a.index.clone(),
        dir: std::path::absolute(&a.mount_dir)?,
        read_write: !a.read_only,
        scratch_dir: std::path::absolute(ctx.scratch_dir()?)?,
    })
}

pub fn mount(ctx: &Ctx, a: MountArgs) -> Result<()> {
    let req = request(ctx, &a)?;
    let exe = std::env::current_exe()?;
    let index = match &req.image {
        servicing::wim::ImageRef::Index(i) => i.to_string(),
        servicing::wim::ImageRef::Name(n) => n.clone(),
    };
    let mut args = vec![
        "mount-helper".to_string(),
        "--image".into(),
        req.wim.display().to_string(),
        "--index".into(),
        index,
        "--mount-dir".into(),
        req.dir.display().to_string(),
        "--scratch-dir".into(),
        req.scratch_dir.display().to_string(),
    ];
    if a.read_only {
        args.push("--read-only".into());
    }
    mount::mount(&req, &exe, &args)?;
    #[derive(serde::Serialize)]
    struct Mounted<'a> {
        wim: &'a std::path::Path,
        #[serde(skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
        mount_dir: &'a std::path::Path,
        read_write: bool,
    }
    let (index, name) = match &req.image {
        servicing::wim::ImageRef::Index(i) => (Some(*i), None),
        servicing::wim::ImageRef::Name(n) => (None, Some(n.as_str())),
    };
    let report = Mounted { wim: &req.wim, index, name, mount_dir: &req.dir, read_write: req.read_write };
    ctx.print(&report, || {
        format!(
            "Mounted {} ({}) on {} {}.\nUnmount with: wimpatch unmount --mount-dir {} --commit|--discard\n",
            req.wim.display(),
            req.image,
            req.dir.display(),
            if req.read_write { "read-write" } else { "read-only" },
            req.dir.display()
        )
    })
}

pub fn helper(ctx: &Ctx, a: MountArgs) -> Result<()> {
    let req = request(ctx, &a)?;
    mount::run_helper(&req)?;
    Ok(())
}

pub fn unmount(ctx: &Ctx, a: UnmountArgs) -> Result<()> {
    let dir = std::path::absolute(&a.mount_dir)?;
    mount::unmount(&dir, a.commit, a.force)?;
    #[derive(serde::Serialize)]
    struct Unmounted<'a> {
        mount_dir: &'a std::path::Path,
        committed: bool,
    }
    let report = Unmounted { mount_dir: &dir, committed: a.commit };
    ctx.print(&report, || {
        format!("Unmounted {} ({}).\n", dir.display(), if a.commit { "changes committed" } else { "changes discarded" })
    })
}
