//! Links the system libhivex; see `sys_support::link` for the search order.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let lib = sys_support::link::Library {
        pkg_config_name: "hivex",
        min_version: "1.3",
        link_name: "hivex",
        env_prefix: "HIVEX",
        debian_package: "libhivex-dev",
    };
    sys_support::link::link(&lib);
    // libhivex has no version function: the version pkg-config saw is the best that is knowable.
    sys_support::link::record_build_version(&lib);
}
