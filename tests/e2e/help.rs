//! `--help`: global options under their own heading, `--wait-lock` only where a writer lock is
//! taken, examples for every command, one value name per concept (issue 16 item 9).

use crate::util::*;

fn help(args: &[&str]) -> String {
    let mut a = args.to_vec();
    a.push("--help");
    run_ok(&a)
}

#[test]
fn help_puts_global_options_under_their_heading_and_hides_wait_lock_on_readers() {
    let info = help(&["info"]);
    let (own, global) = info.split_once("Global options:").unwrap_or_else(|| panic!("{info}"));
    assert!(global.contains("--json") && global.contains("--scratch-dir"), "{info}");
    assert!(!own.contains("--json"), "{info}");
    for reader in [&["info"][..], &["verify"], &["get-packages"], &["package", "info"], &["site", "catalog", "sync"]] {
        assert!(!help(reader).contains("--wait-lock"), "{reader:?}");
    }
    for writer in [&["reduce"][..], &["add-package"], &["export-image"], &["service"], &["cleanup-image"]] {
        assert!(help(writer).contains("--wait-lock <SECONDS>"), "{writer:?}");
    }
    // Still accepted before the verb, as before.
    let out = run(&["--wait-lock", "1", "info", "/nonexistent.wim"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

#[test]
fn help_of_every_command_ends_with_examples() {
    for cmd in [&["info"][..], &["add-package"], &["site", "schedule"], &["delta", "create"], &["package"]] {
        let text = help(cmd);
        let examples = text.split_once("Examples:\n").unwrap_or_else(|| panic!("{cmd:?}: {text}")).1;
        assert!(examples.trim_start().starts_with(&format!("wimpatch {}", cmd[0])), "{cmd:?}: {examples}");
    }
}

#[test]
fn help_names_a_wim_wim_and_a_site_image_id_image_id() {
    for cmd in [&["reduce"][..], &["delete-image"], &["optimize"], &["mount"], &["service"], &["add-package"]] {
        assert!(help(cmd).contains("--image <WIM>"), "{cmd:?}");
    }
    for cmd in [&["site", "updates"][..], &["site", "schedule"], &["site", "cancel"], &["site", "distribute"]] {
        let text = help(cmd);
        assert!(text.contains("--image-id <ID>") && !text.contains("--image <"), "{cmd:?}: {text}");
    }
    // The old spelling still parses (a usage error would be exit status 2; a missing site is 2 too,
    // so give one that does not exist: exit 1).
    let work = Work::new();
    let site = work.path("nosite");
    let out = run(&["site", "--site", site.to_str().unwrap(), "cancel", "--image", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}
