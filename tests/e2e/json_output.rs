//! `--json`: one JSON document on stdout, success or failure; a failure is `{"ok": false, "error":
//! {"message", "input", "code", "exit_status"}}`; every command names a WIM `wim`, an image `index`
//! and `name`, and writes enum-like values in snake_case (issue 16 item 8).

use crate::util::*;

/// Every key of `v`, recursively.
fn keys(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                keys(v, out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// Parses a failed run's stdout as the error document and checks its shape.
fn error_doc(out: &std::process::Output, status: i32) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(status), "{}", stderr(out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(v["ok"], false, "{v}");
    let code = v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error.code: {v}"));
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{code}");
    assert!(v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(v["error"]["exit_status"], status, "{v}");
    v
}

#[test]
fn json_failure_of_a_missing_wim_is_an_error_object_naming_the_input() {
    let work = Work::new();
    let missing = work.path("missing.wim");
    let out = run(&["info", missing.to_str().unwrap(), "--json"]);
    let v = error_doc(&out, 1);
    assert_eq!(v["error"]["input"], missing.to_str().unwrap(), "{v}");
    assert_eq!(v["error"]["code"], "not_found", "{v}");
    // stderr still says it, once.
    assert_eq!(stderr(&out).matches("error:").count(), 1, "{}", stderr(&out));
}

#[test]
fn json_failure_kinds_are_stable_words() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 1, 512, "none");
    let w = wim.to_str().unwrap();
    let v = error_doc(&run(&["delete-image", "--image", w, "--index", "9", "--json"]), 1);
    assert_eq!(v["error"]["code"], "no_such_image", "{v}");
    assert_eq!(v["error"]["input"], w, "{v}");
    let dest = work.path("taken.wim");
    std::fs::write(&dest, b"keep me").unwrap();
    let v = error_doc(&run(&["reduce", "--image", w, "--keep", "1", "--dest", dest.to_str().unwrap(), "--json"]), 1);
    assert_eq!(v["error"]["code"], "destination_exists", "{v}");
    assert_eq!(v["error"]["input"], dest.to_str().unwrap(), "{v}");
}

#[test]
fn json_usage_errors_are_error_objects_too() {
    let v = error_doc(&run(&["info", "--json"]), 2);
    assert_eq!(v["error"]["code"], "usage", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("<WIM>"), "{v}");
    let v = error_doc(&run(&["site", "init", "--json"]), 2);
    assert_eq!(v["error"]["code"], "usage", "{v}");
}

#[test]
fn json_vocabulary_is_wim_index_name_across_the_image_verbs() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 1, 512, "none");
    let w = wim.to_str().unwrap();
    let dest = work.path("one.wim");
    let d = dest.to_str().unwrap();
    let verify = run_json(&["verify".into(), w.into(), "--json".into()]);
    assert_eq!(verify["ok"], true, "{verify}");
    assert_eq!(verify["wim"], w, "{verify}");
    let export = run_json(&[
        "export-image".into(),
        "--source".into(),
        w.into(),
        "--index".into(),
        "2".into(),
        "--dest".into(),
        d.into(),
        "--json".into(),
    ]);
    assert_eq!(
        (&export["wim"], &export["index"], &export["dest_index"]),
        (&w.into(), &2.into(), &1.into()),
        "{export}"
    );
    let info = run_json(&["info".into(), w.into(), "--json".into()]);
    assert_eq!(info["wim"], w, "{info}");
    let delete =
        run_json(&["delete-image".into(), "--image".into(), w.into(), "--index".into(), "1".into(), "--json".into()]);
    assert_eq!((&delete["index"], &delete["name"]), (&1.into(), &THREE[0].0.into()), "{delete}");
    // Left: THREE[1] as 1, THREE[2] as 2.
    let reduce = run_json(&["reduce".into(), "--image".into(), w.into(), "--keep".into(), "2".into(), "--json".into()]);
    assert_eq!((&reduce["index"], &reduce["name"]), (&2.into(), &THREE[2].0.into()), "{reduce}");
    let optimize = run_json(&["optimize".into(), "--image".into(), d.into(), "--json".into()]);
    for doc in [&verify, &export, &info, &reduce, &optimize, &delete] {
        let mut all = Vec::new();
        keys(doc, &mut all);
        for banned in ["path", "source", "target", "source_index", "kept_index", "deleted_index"] {
            assert!(!all.iter().any(|k| k == banned), "{banned} in {doc}");
        }
        assert!(
            all.iter().all(|k| k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
            "{doc}"
        );
    }
}
