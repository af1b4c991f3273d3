//! Writing a run's staged result into the target. A WIM image gets one wimlib update batch (each
//! staging tree added at the image root, merged into the existing folders; the edited hives replace the
//! old ones) committed in append mode under the writer lock: the cost follows the package, not the
//! image, and a kill at any point leaves the old or the new image (the header is written last). A
//! directory gets the files moved in, hard links kept, the hives last, as one transaction (see
//! [`super::dir_txn`]).

use std::path::PathBuf;

use super::error::Result;
use super::session::Finish;
use super::target::Session;
use crate::progress::Control;
use crate::wim::{Commit, UpdateCommand, WriteOptions};

/// Commits `stages` (trees laid out from the image root), `files` (local file → image path) and
/// `deletes` (image paths) to the target. Consumes the session: a committed WIM handle cannot be used
/// again.
pub(crate) fn commit(
    session: Session,
    stages: &[PathBuf],
    files: &[(PathBuf, String)],
    deletes: &[String],
    how: Finish,
    control: Control<'_>,
) -> Result<()> {
    match session {
        Session::Image { mut wim, index, .. } => {
            let mut cmds: Vec<UpdateCommand> =
                deletes.iter().map(|p| UpdateCommand::Delete { path: p.clone(), must_exist: false }).collect();
            cmds.extend(stages.iter().map(|s| UpdateCommand::Add { source: s.clone(), target: "/".into() }));
            cmds.extend(
                files.iter().map(|(local, image)| UpdateCommand::Add { source: local.clone(), target: image.clone() }),
            );
            if !cmds.is_empty() {
                wim.update(index, &cmds, control)?;
            }
            match how {
                Finish::Append => wim.commit(Commit::Append, WriteOptions::default(), control)?,
                Finish::Rewrite { compression } => {
                    let info = wim.info();
                    if let Some(c) = compression {
                        wim.set_output_compression(c)?;
                    }
                    let opts = WriteOptions {
                        check_integrity: info.has_integrity_table,
                        recompress: compression.is_some_and(|c| Some(c) != info.compression),
                        ..WriteOptions::default()
                    };
                    wim.rewrite(opts, control)?;
                }
            }
            Ok(())
        }
        Session::Dir { root, .. } => super::dir_txn::commit_dir(&root, stages, files, deletes),
    }
}
