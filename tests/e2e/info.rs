//! `wimpatch info` on WIMs written by wimlib-imagex.

use crate::util::*;

#[test]
fn info_json_reports_all_three_images_with_names_arch_and_build() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 6, 4096, "lzx");
    let out = run_ok(&["info", wim.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v["header"]["image_count"], 3);
    assert_eq!(v["header"]["compression"], "lzx");
    let images = v["images"].as_array().expect("images array");
    assert_eq!(images.len(), 3);
    let arch_names = ["amd64", "x86", "arm64"];
    for (i, (name, edition, _arch, build)) in THREE.iter().enumerate() {
        let img = &images[i];
        assert_eq!(img["index"], i + 1);
        assert_eq!(img["name"], *name);
        assert_eq!(img["edition_id"], *edition);
        assert_eq!(img["arch"], arch_names[i], "image {}", i + 1);
        assert_eq!(img["build"], build.parse::<u64>().unwrap());
        assert!(img["file_count"].as_u64().unwrap() >= 7, "file count of image {}", i + 1);
        assert!(img["total_bytes"].as_u64().unwrap() > 6 * 4000);
    }
}

#[test]
fn info_text_shows_every_image_like_dism_get_imageinfo() {
    let work = Work::new();
    let wim = three_image_wim(&work, "three.wim", 2, 1024, "none");
    let out = run_ok(&["info", wim.to_str().unwrap()]);
    assert!(out.contains("Image count  : 3"), "{out}");
    for (name, _, _, _) in THREE {
        assert!(out.contains(&format!("Name         : {name}")), "{out}");
    }
    assert!(out.contains("Architecture : arm64"));
    assert!(out.contains("Build        : 19045"));
}

#[test]
fn missing_arch_is_reported_as_unknown_not_x86() {
    // wiminfo prints "x86" when <ARCH> is absent; absent is not 0.
    let work = Work::new();
    let src = work.path("src");
    make_tree(&src, 1, 1, 100);
    let wim = work.path("plain.wim");
    imagex(&["capture", src.to_str().unwrap(), wim.to_str().unwrap(), "Plain"]);
    let v: serde_json::Value = serde_json::from_str(&run_ok(&["info", wim.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(v["images"][0]["arch"], serde_json::Value::Null);
}
