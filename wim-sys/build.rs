//! Links the system wimlib; see `sys_support::link` for the search order and why pkg-config may fail.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    sys_support::link::link(&sys_support::link::Library {
        pkg_config_name: "wimlib",
        min_version: "1.13",
        link_name: "wim",
        env_prefix: "WIMLIB",
        debian_package: "libwim-dev",
    });
}
