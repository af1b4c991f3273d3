//! Tables fit the terminal they are printed on, and are never cut when piped (issue 16 item 11).
//! The terminal is a real pseudo-terminal from util-linux `script`, its width set with `stty`.

use std::process::Command;

use crate::util::*;

#[test]
fn site_tables_fit_a_narrow_terminal_and_are_whole_when_piped() {
    let work = Work::new();
    let site = work.path("site");
    run_ok(&["site", "--site", site.to_str().unwrap(), "init"]);
    let list = format!("{} site --site {} image list", env!("CARGO_BIN_EXE_wimpatch"), site.display());

    let piped = run_ok(&["site", "--site", site.to_str().unwrap(), "image", "list"]);
    assert!(
        piped.contains("Scheduled Updates Status") && piped.lines().next().unwrap().chars().count() > 60,
        "{piped}"
    );

    let tty = Command::new("script")
        .args(["-qec", &format!("stty cols 60 rows 20; {list}"), "/dev/null"])
        .env("WIMPATCH_NO_PROGRESS", "1")
        .output()
        .expect("util-linux script");
    assert!(tty.status.success(), "{}", String::from_utf8_lossy(&tty.stderr));
    let text = String::from_utf8_lossy(&tty.stdout).replace('\r', "");
    let header = text.lines().find(|l| l.starts_with("ID")).unwrap_or_else(|| panic!("{text:?}"));
    assert!(header.chars().count() <= 60, "{header:?}");
    assert!(header.contains('…'), "{header:?}");
}
