//! `wimpatch completions SHELL`: the shell completion script on stdout (clap_complete).

use anyhow::Result;

pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = crate::help::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "wimpatch", &mut out);
    std::io::Write::flush(&mut out)?;
    Ok(())
}
