//! Issue 19: the site's listings say what the data says. Each test is named after a listing that
//! contradicted the data before: the catalog's hard-coded Superseded "No" and empty Note, a sync
//! that took a truncated cab silently, a schedule that accepted updates that cannot apply, a Version
//! that stayed at the imported build, Installed Updates without their index, DPs never shown out of
//! date, and `--now` replacing a recurring schedule.

use crate::site::{Backend, Fixture};
use crate::util::*;

const X86: &str = "Windows10.0-KB5000020-x86.cab";
const TRUNCATED: &str = "broken-truncated-data.cab";
const EXE: &str = "ie11-setup.exe";

/// Adds the x86 update (cannot apply to the x64 image) and a truncated cab to the update source,
/// and syncs; returns the sync's text output.
fn add_bad_files(f: &Fixture) -> String {
    for name in [X86, TRUNCATED] {
        std::fs::copy(f.all.join(name), f.updates.join(name)).unwrap();
    }
    f.ok(&["catalog", "sync", "--from", f.updates.to_str().unwrap()])
}

fn catalog_id(f: &Fixture, file: &str) -> String {
    let list = f.json(&["catalog", "list"]);
    let entry = list.as_array().unwrap().iter().find(|u| u["file_name"] == file).unwrap_or_else(|| panic!("{list}"));
    entry["id"].to_string()
}

/// The table row of `site catalog list` for a file.
fn row<'a>(table: &'a str, file: &str) -> &'a str {
    table.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("no row for {file}:\n{table}"))
}

fn catalog_list_hard_coded_superseded_no_and_an_empty_note_and_sync_took_a_truncated_cab_silently(backend: Backend) {
    let f = Fixture::new(backend);
    let sync = add_bad_files(&f);
    assert!(
        sync.contains(&format!("warning: {TRUNCATED} is unreadable")) && sync.contains("never applied"),
        "catalog sync did not warn about the truncated cab:\n{sync}"
    );
    let json = f.json(&["catalog", "sync", "--from", f.updates.to_str().unwrap()]);
    assert_eq!(json["unreadable"][0]["file"], TRUNCATED, "{json}");

    let table = f.ok(&["catalog", "list"]);
    let header = table.lines().next().unwrap();
    for column in ["Type", "Superseded By", "Note"] {
        assert!(header.contains(column), "{header}");
    }
    // KB5000001 is superseded by KB5000002 (catalog ID 2): the column says so.
    let kb1 = row(&table, "KB5000001-x64.cab");
    let superseded_at = header.find("Superseded By").unwrap();
    assert_eq!(kb1[superseded_at..].split_whitespace().next(), Some("2"), "{table}");
    assert!(row(&table, EXE).contains("not supported: Windows executable"), "{table}");
    let truncated = row(&table, TRUNCATED);
    assert!(truncated.contains("unreadable: ") && truncated.contains("unreadable"), "{table}");
    assert!(!row(&table, "KB5000002-x64.cab").contains("unreadable"), "{table}");
}

fn schedule_accepted_updates_that_cannot_apply_and_all_applicable_took_not_supported_binaries(backend: Backend) {
    let f = Fixture::new(backend);
    add_bad_files(&f);
    let log_before = f.log();

    // The x86 update on the x64 image: the dry run says not applicable; schedule refuses it.
    let out = run(&f.args(&["schedule", "--image-id", "1", "--updates", "KB5000020", "--now"]));
    let err = stderr(&out);
    assert!(!out.status.success(), "a wrong-architecture update was scheduled: {err}");
    assert!(err.contains("cannot apply") && err.contains("KB5000020") && err.contains("--force"), "{err}");
    // The truncated cab: unreadable, refused too (by catalog ID: it names no KB).
    let truncated = catalog_id(&f, TRUNCATED);
    let out = run(&f.args(&["schedule", "--image-id", "1", "--updates", &truncated, "--now"]));
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("unreadable"), "{err}");
    // A named .exe is not a CBS package: refused unless asked.
    let exe = catalog_id(&f, EXE);
    let out = run(&f.args(&["schedule", "--image-id", "1", "--updates", &exe, "--now"]));
    assert!(!out.status.success() && stderr(&out).contains("not supported"), "{}", stderr(&out));
    assert!(f.show()["schedule"].is_null(), "a refused schedule was recorded: {}", f.show());

    // --force schedules them, and says so in the output and in OfflineServicingMgr.log.
    let forced = f.json(&["schedule", "--image-id", "1", "--updates", "KB5000020", &truncated, "--now", "--force"]);
    assert_eq!(forced["forced"].as_array().unwrap().len(), 2, "{forced}");
    let log = f.log();
    assert!(log.len() > log_before.len() && log.contains("forced (--force)"), "{log}");
    f.ok(&["cancel", "--image-id", "1"]);

    // all-applicable leaves the .exe out unless --include-not-supported.
    let files = |v: &serde_json::Value| -> Vec<String> {
        v["schedule"]["job"]["updates"].as_array().unwrap().iter().map(|u| u["file_name"].to_string()).collect()
    };
    let plain = f.json(&["schedule", "--image-id", "1", "--updates", "all-applicable", "--now"]);
    assert!(!files(&plain).iter().any(|n| n.contains(EXE)), "{plain}");
    assert!(!files(&plain).iter().any(|n| n.contains(X86) || n.contains(TRUNCATED)), "{plain}");
    let asked =
        f.json(&["schedule", "--image-id", "1", "--updates", "all-applicable", "--now", "--include-not-supported"]);
    assert!(files(&asked).iter().any(|n| n.contains(EXE)), "{asked}");
    let tick = f.json(&["tick"]);
    let results = tick["ran"][0]["updates"].as_array().unwrap();
    assert!(results.iter().any(|u| u["file_name"] == EXE && u["result"] == "not_supported"), "{tick}");
}

fn image_list_version_stayed_at_the_imported_build_after_servicing(backend: Backend) {
    let f = Fixture::new(backend);
    assert_eq!(f.json(&["image", "list"])[0]["version"], "10.0.19041.1");
    f.schedule_now(&["KB5000002"], &[]);
    f.json(&["tick"]);
    let show = f.show();
    assert_eq!(show["content_version"], 2, "{show}");
    let serviced = show["editions"][0]["os_version"].as_str().unwrap().to_owned();
    assert_eq!(serviced, "10.0.19041.200", "the fixture's LCU moves the revision: {show}");
    assert_eq!(f.json(&["image", "list"])[0]["version"], serviced.as_str());
    let table = f.ok(&["image", "list"]);
    assert!(table.contains(&serviced), "{table}");
    assert!(f.ok(&["image", "show", "1"]).contains(&format!("Version:                  {serviced}")));
}

fn installed_updates_of_a_multi_index_image_repeated_per_index_without_an_index_column(backend: Backend) {
    let f = Fixture::new(backend);
    let wim = fixture_wim(&f.work, "win10", "win10-all.wim");
    let imported = f.json(&["image", "import", wim.to_str().unwrap()]);
    assert_eq!(imported["id"], 2);
    let indexes = imported["editions"].as_array().unwrap().len();
    assert!(indexes > 1, "{imported}");
    f.ok(&["schedule", "--image-id", "2", "--updates", "KB5000002", "--now"]);
    f.json(&["tick"]);
    let text = f.ok(&["image", "show", "2"]);
    let section: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Installed Updates:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(section[0].trim_start().starts_with("Index"), "{text}");
    let rows: Vec<&str> = section[1..].iter().copied().filter(|l| l.contains("KB5000002")).collect();
    assert_eq!(rows.len(), indexes, "{text}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.split_whitespace().next(), Some((i + 1).to_string().as_str()), "{text}");
    }
}

fn dp_list_never_said_a_dp_was_out_of_date_and_read_success_by_full(backend: Backend) {
    let f = Fixture::new(backend);
    f.add_dps();
    let dist = f.ok(&["distribute", "--image-id", "1"]);
    assert!(dist.contains("holds content version 1 now (a whole verified copy"), "{dist}");
    assert!(f.ok(&["dp", "list"]).contains("current (v1)"));

    f.schedule_now(&["KB5000002"], &[]);
    f.json(&["tick"]);
    let table = f.ok(&["dp", "list"]);
    let dp_a = table.lines().find(|l| l.starts_with("dp-a")).unwrap();
    assert!(dp_a.contains("out of date: site has v2, DP has v1"), "{table}");
    let json = f.json(&["dp", "list"]);
    assert_eq!(json[0]["images"][0]["up_to_date"], false, "{json}");
    assert_eq!(json[0]["images"][0]["site_content_version"], 2, "{json}");
    let show = f.ok(&["image", "show", "1"]);
    assert!(show.contains("out of date: site has v2, DP has v1"), "{show}");

    f.ok(&["distribute", "--image-id", "1"]);
    let table = f.ok(&["dp", "list"]);
    assert!(table.lines().filter(|l| l.starts_with("dp-")).all(|l| l.contains("current (v2)")), "{table}");
}

fn schedule_now_replaced_a_recurring_schedule_and_its_update_dps(backend: Backend) {
    let f = Fixture::new(backend);
    f.add_dps();
    let recurring = f.json(&[
        "schedule",
        "--image-id",
        "1",
        "--updates",
        "all-applicable",
        "--every",
        "monthly:second-tuesday@02:00",
        "--update-dps",
    ]);
    let recurring_id = recurring["schedule"]["id"].clone();
    let now = f.ok(&["schedule", "--image-id", "1", "--updates", "KB5000002", "--now"]);
    assert!(!now.contains("Replaced"), "{now}");
    let tick = f.json(&["tick"]);
    assert_eq!(tick["ran"].as_array().unwrap().len(), 1, "{tick}");
    assert!(tick["ran"][0]["distribution"].is_null(), "the run-now took the recurring schedule's --update-dps");
    let show = f.show();
    assert_eq!(show["content_version"], 2, "{show}");
    let schedule = &show["schedule"];
    assert_eq!(schedule["id"], recurring_id, "{show}");
    assert_eq!(schedule["active"], true, "{show}");
    assert_eq!(schedule["update_dps"], true, "{show}");
    assert!(schedule["when"].as_str().unwrap().starts_with("every monthly:second-tuesday"), "{show}");
    assert_eq!(schedule["job"]["status"], "scheduled", "{show}");
}

on_both_backends!(
    catalog_list_hard_coded_superseded_no_and_an_empty_note_and_sync_took_a_truncated_cab_silently,
    schedule_accepted_updates_that_cannot_apply_and_all_applicable_took_not_supported_binaries,
    image_list_version_stayed_at_the_imported_build_after_servicing,
    installed_updates_of_a_multi_index_image_repeated_per_index_without_an_index_column,
    dp_list_never_said_a_dp_was_out_of_date_and_read_success_by_full,
    schedule_now_replaced_a_recurring_schedule_and_its_update_dps,
);
