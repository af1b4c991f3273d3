//! Component registry data of the real `Windows8.1-KB2938772-x64.cab`: every value of both binding
//! engine manifests maps onto a hive and decodes as its type, and the key security descriptors
//! resolve through `trustInfo`.

use cbs::container::{Cabinet, Limits};
use cbs::manifest::ComponentManifest;
use cbs::registry::{self, RegistryData, TargetHive, View};

const AMD64: &str =
    "amd64_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_2f0e3c02f951e22c";
const X86: &str = "x86_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_d2efa07f40f470f6";

#[test]
fn kb2938772_binding_engine_registry_values_map_and_decode() {
    let dir = real_or_skip!("kb2938772_binding_engine_registry_values_map_and_decode");
    let mut cab = Cabinet::open(dir.join("Windows8.1-KB2938772-x64.cab"), Limits::default()).unwrap();
    for (kf, view) in [(AMD64, View::Native), (X86, View::Wow64)] {
        let name = format!("{kf}.manifest");
        let m = ComponentManifest::parse(&cab.read_member(&name, 1 << 20).unwrap(), &name).unwrap();
        // 27 values in 14 keys (the 41 quoted for amd64 is the two added together); the x86 twin
        // carries the same.
        assert_eq!(m.registry_value_count(), 27, "{kf}");
        assert_eq!(m.registry_keys.len(), 14, "{kf}");
        assert_eq!(m.security_descriptors.len(), 3, "{kf}");
        let sd = m.security_descriptor("Binding_Engine_Default_SDDL").expect("definition");
        assert!(sd.sddl.starts_with("D:PAI(A;CI;KR;;;BU)"), "{}", sd.sddl);
        for key in m.registry_keys.iter().filter_map(|k| k.security_descriptor.as_deref()) {
            assert!(m.security_descriptor(key).is_some(), "{kf}: {key} undefined");
        }

        let entries = registry::entries(&m, "amd64", cbs::runtime::DEFAULT_WINDIR);
        assert_eq!(entries.len(), 27);
        for e in &entries {
            assert!(e.error.is_none(), "{kf}: {} {}: {:?}", e.key, e.name, e.error);
        }
        let find = |key_end: &str, name: &str| {
            entries
                .iter()
                .find(|e| e.key.trim_end_matches('\\').ends_with(key_end) && e.name == name)
                .unwrap_or_else(|| panic!("{kf}: {key_end} {name}"))
        };
        let network = find(r"Control\Network", "FilterClasses");
        assert_eq!(network.target.as_deref(), Some(r"SYSTEM\CurrentControlSet\Control\Network"));
        match &network.data {
            Some(RegistryData::MultiSz(list)) => {
                assert_eq!(list.len(), 15);
                assert_eq!(list[0], "ms_firewall_upper");
            }
            other => panic!("{other:?}"),
        }
        let inproc = find(r"{5B035261-40F9-11D1-AAEC-00805FC1270E}\InProcServer32", "");
        let (system, classes) = match view {
            View::Native => (r"C:\Windows\System32", r"SOFTWARE\Classes\CLSID"),
            View::Wow64 => (r"C:\Windows\SysWOW64", r"SOFTWARE\Classes\WOW6432Node\CLSID"),
        };
        assert_eq!(inproc.data, Some(RegistryData::Sz(format!(r"{system}\netcfgx.dll"))));
        assert!(inproc.target.as_deref().unwrap().starts_with(classes), "{:?}", inproc.target);
        let launch = find(r"AppId\{DCED8DB0-11A5-4b16-AB9D-4E28CA38C99F}", "LaunchPermission");
        assert_eq!(launch.target.as_deref(), Some(r"SOFTWARE\Classes\AppId\{DCED8DB0-11A5-4b16-AB9D-4E28CA38C99F}"));
        match &launch.data {
            Some(RegistryData::Binary(sd)) => assert_eq!(&sd[..4], &[1, 0, 4, 0x80], "self-relative descriptor"),
            other => panic!("{other:?}"),
        }
        assert_eq!(find(r"CallbackDlls\NETCFGX", "Type").data, Some(RegistryData::Dword(9)));
        let mapped = registry::map_key(&network.key, view).unwrap();
        assert_eq!((mapped.hive, mapped.control_set), (TargetHive::System, true));
    }
}
