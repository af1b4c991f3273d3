//! The container layer (`cbs::container`): the real Microsoft packages of `shared/testdata/real-cbs`
//! (member lists, sizes and CRC-32s recorded with `cabextract`, as facts), and hostile cabinets
//! built here from bytes: truncated, traversing names, huge sizes, duplicates, bombs, bit flips.

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use cbs::container::{
    classify_cabinet, classify_wim, decode_text, detect, detect_path, normalize_member_name, Cabinet, Compression,
    ContainerKind, DirectorySource, Error, LimitKind, Limits, Msu, NameError, PackageSource, PkgProperties, WimContent,
    WimSource, DEFENDER_REASON, HOTPATCH_REASON, NO_UPDATE_MUM_REASON,
};

fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
        *slot = c;
    }
    !data.iter().fold(!0u32, |c, &b| table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

const KB2938772_CAB: &[(&str, u64, u32)] = &[
    ("amd64_01c664836cdf8c92a065c6b175d5854f_31bf3856ad364e35_6.3.9600.17039_none_da2c0b1c977ea5bf.manifest", 712, 0x1862eb63),
    ("amd64_a029976e823e2ffcf4d6346165a0c5b8_31bf3856ad364e35_6.3.9600.17039_none_2f327cb7dfde6e2b.manifest", 714, 0x55c070e0),
    ("amd64_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_2f0e3c02f951e22c.manifest", 13227, 0x15c398f3),
    ("amd64_netrasa.inf_31bf3856ad364e35_6.3.9600.17039_none_9968574d24ae0f79.manifest", 1473, 0xce9ea9db),
    ("Package_1_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.cat", 9198, 0x144abe22),
    ("Package_1_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.mum", 1855, 0xeaf60b39),
    ("Package_2_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.cat", 9395, 0x4e5baafc),
    ("Package_2_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.mum", 1832, 0x50995853),
    ("Package_3_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.cat", 9394, 0xc1c18fd9),
    ("Package_3_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.mum", 2307, 0x431bf1f5),
    ("Package_4_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.cat", 9394, 0xd5dd75d4),
    ("Package_4_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.mum", 2295, 0x99335209),
    ("Package_5_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.cat", 9199, 0x31c8e41f),
    ("Package_5_for_KB2938772~31bf3856ad364e35~amd64~~6.3.1.0.mum", 1855, 0xad777168),
    ("Package_for_KB2938772_RTM_GM~31bf3856ad364e35~amd64~~6.3.1.0.cat", 8822, 0x24660858),
    ("Package_for_KB2938772_RTM_GM~31bf3856ad364e35~amd64~~6.3.1.0.mum", 2526, 0xca26d065),
    ("Package_for_KB2938772_RTM~31bf3856ad364e35~amd64~~6.3.1.0.cat", 8822, 0x93cdadad),
    ("Package_for_KB2938772_RTM~31bf3856ad364e35~amd64~~6.3.1.0.mum", 2803, 0x5e62d419),
    ("update.cat", 8822, 0x10adb8de),
    ("update.mum", 2927, 0xef055324),
    ("x86_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_d2efa07f40f470f6.manifest", 13221, 0xfc3120c9),
    ("amd64_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_2f0e3c02f951e22c/netcfgx.dll", 487256, 0x770ea2d0),
    ("amd64_netrasa.inf_31bf3856ad364e35_6.3.9600.17039_none_9968574d24ae0f79/netrasa.inf", 25220, 0x17eb5325),
    ("x86_microsoft-windows-ndis-tdi-bindingengine_31bf3856ad364e35_6.3.9600.17039_none_d2efa07f40f470f6/netcfgx.dll", 388952, 0xe4469bf0),
];

const HYPERV_CAB: &[(&str, u64, u32)] = &[
    ("update.cat", 25304, 0x5715a3bb),
    ("amd64_synth3dvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_22991295bf6a8ee5.manifest", 2132, 0xebd54975),
    ("amd64_wdmvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_533a968bcc920dda.manifest", 2391, 0x1024e970),
    ("amd64_wfcvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_5e979d7e3f11acd2.manifest", 1748, 0x715a34a2),
    ("amd64_wgencounter.inf_31bf3856ad364e35_6.3.9600.19456_none_dffff63b7cc5bc8f.manifest", 1777, 0x85cd46be),
    ("amd64_whyperkbd.inf_31bf3856ad364e35_6.3.9600.19456_none_0ab47b4111271f28.manifest", 1763, 0xc4bbfd64),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8.manifest", 4336, 0x46e1d73d),
    ("amd64_wnetvsc_vfpp.inf_31bf3856ad364e35_6.3.9600.19456_none_8e180d33b8bbed73.manifest", 1138, 0xc75315d4),
    ("amd64_ws3cap.inf_31bf3856ad364e35_6.3.9600.19456_none_87a87b0518319989.manifest", 1752, 0x4fe08e88),
    ("amd64_wstorflt.inf_31bf3856ad364e35_6.3.9600.19456_none_b1747c8bec2a5fcb.manifest", 3059, 0x93612009),
    ("amd64_wstorvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_182a5a413bc9528b.manifest", 1758, 0xcb8080e2),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2.manifest", 4961, 0x22a763ba),
    ("amd64_wvmbushid.inf_31bf3856ad364e35_6.3.9600.19456_none_e196b8ad8044d1b7.manifest", 1763, 0x99bf334b),
    ("amd64_wvmbusvideo.inf_31bf3856ad364e35_6.3.9600.19456_none_4418f8bdb31229ff.manifest", 3065, 0x8f7b0afd),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2.manifest", 5018, 0x90e35d6f),
    ("amd64_wvpcinull.inf_31bf3856ad364e35_6.3.9600.19456_none_51b6e70bcdf047ee.manifest", 1123, 0x57626466),
    ("update.mum", 16157, 0x85dfb571),
    ("amd64_synth3dvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_22991295bf6a8ee5/synth3dvsc.inf", 5194, 0x56ca4708),
    ("amd64_synth3dvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_22991295bf6a8ee5/synth3dvsc.sys", 49400, 0xb933e8f4),
    ("amd64_wdmvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_533a968bcc920dda/dmvscres.dll", 33792, 0xdb3468f3),
    ("amd64_wdmvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_533a968bcc920dda/wdmvsc.inf", 23382, 0x9832b336),
    ("amd64_wdmvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_533a968bcc920dda/dmvsc.sys", 29696, 0x86fd7ceb),
    ("amd64_wfcvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_5e979d7e3f11acd2/wfcvsc.inf", 61692, 0x41ff34b0),
    ("amd64_wfcvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_5e979d7e3f11acd2/fcvsc.sys", 32768, 0x1f20bec9),
    ("amd64_wgencounter.inf_31bf3856ad364e35_6.3.9600.19456_none_dffff63b7cc5bc8f/wgencounter.inf", 19646, 0x64f315ee),
    ("amd64_wgencounter.inf_31bf3856ad364e35_6.3.9600.19456_none_dffff63b7cc5bc8f/vmgencounter.sys", 11264, 0x8415a89c),
    ("amd64_whyperkbd.inf_31bf3856ad364e35_6.3.9600.19456_none_0ab47b4111271f28/whyperkbd.inf", 15050, 0x20ffc2f6),
    ("amd64_whyperkbd.inf_31bf3856ad364e35_6.3.9600.19456_none_0ab47b4111271f28/hyperkbd.sys", 13824, 0x1d0a6a11),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8/netvsccoinstall.dll", 66560, 0x76872013),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8/netvscres.dll", 44544, 0x24f05012),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8/wnetvsc.inf", 165800, 0xc7319e57),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8/netvsc50.sys", 43008, 0x0d0a4e9d),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8/netvsc60.sys", 61952, 0xff7d03e4),
    ("amd64_wnetvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_47feb9baa358fbf8/netvsc63.sys", 87552, 0x691b651a),
    ("amd64_wnetvsc_vfpp.inf_31bf3856ad364e35_6.3.9600.19456_none_8e180d33b8bbed73/wnetvsc_vfpp.inf", 3786, 0xdfd2f79b),
    ("amd64_ws3cap.inf_31bf3856ad364e35_6.3.9600.19456_none_87a87b0518319989/ws3cap.inf", 15864, 0xc3383b86),
    ("amd64_ws3cap.inf_31bf3856ad364e35_6.3.9600.19456_none_87a87b0518319989/vms3cap.sys", 7168, 0x0b1ecd39),
    ("amd64_wstorflt.inf_31bf3856ad364e35_6.3.9600.19456_none_b1747c8bec2a5fcb/vmdcoinstall.dll", 66560, 0x1f8469cd),
    ("amd64_wstorflt.inf_31bf3856ad364e35_6.3.9600.19456_none_b1747c8bec2a5fcb/vmstorfltres.dll", 38912, 0xf464d193),
    ("amd64_wstorflt.inf_31bf3856ad364e35_6.3.9600.19456_none_b1747c8bec2a5fcb/wstorflt.inf", 21848, 0x36f7f310),
    ("amd64_wstorflt.inf_31bf3856ad364e35_6.3.9600.19456_none_b1747c8bec2a5fcb/vmstorfl.sys", 42744, 0x3ffd701e),
    ("amd64_wstorvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_182a5a413bc9528b/wstorvsc.inf", 70140, 0x51a7b53c),
    ("amd64_wstorvsc.inf_31bf3856ad364e35_6.3.9600.19456_none_182a5a413bc9528b/storvsc.sys", 38648, 0x968ee9d7),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/vmbuscoinstaller.dll", 66560, 0x4a79064a),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/vmbuspipe.dll", 28024, 0x3d0f6fed),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/vmbusres.dll", 54784, 0x960480c2),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/wvmbus.inf", 24434, 0xa28091b7),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/vmbkmcl.sys", 81656, 0xff2b34f4),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/vmbus.sys", 91384, 0x6b950d6d),
    ("amd64_wvmbus.inf_31bf3856ad364e35_6.3.9600.19456_none_2a6133907de48db2/winhv.sys", 54008, 0xe7a00f8d),
    ("amd64_wvmbushid.inf_31bf3856ad364e35_6.3.9600.19456_none_e196b8ad8044d1b7/wvmbushid.inf", 22418, 0x3673e4da),
    ("amd64_wvmbushid.inf_31bf3856ad364e35_6.3.9600.19456_none_e196b8ad8044d1b7/vmbushid.sys", 21760, 0xd6f51c25),
    ("amd64_wvmbusvideo.inf_31bf3856ad364e35_6.3.9600.19456_none_4418f8bdb31229ff/vmbusvideod.dll", 19968, 0xaa93adfe),
    ("amd64_wvmbusvideo.inf_31bf3856ad364e35_6.3.9600.19456_none_4418f8bdb31229ff/wvmbusvideo.inf", 23882, 0xe7ef446d),
    ("amd64_wvmbusvideo.inf_31bf3856ad364e35_6.3.9600.19456_none_4418f8bdb31229ff/hypervideo.sys", 22016, 0x0670f9c4),
    ("amd64_wvmbusvideo.inf_31bf3856ad364e35_6.3.9600.19456_none_4418f8bdb31229ff/vmbusvideom.sys", 19968, 0x8bc2394a),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/iccoinstall2.dll", 66560, 0xec7c3493),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/icsvc.dll", 541184, 0x7f1e94e6),
    (
        "amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/vmapplicationhealthmonitorproxy.dll",
        13312,
        0x4bf9bd9d,
    ),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/vmicres.dll", 208384, 0xad1def81),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/vmictimeprovider.dll", 58880, 0x58372055),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/vmrdvcore.dll", 382464, 0xd4bba530),
    ("amd64_wvmic.inf_31bf3856ad364e35_6.3.9600.19456_none_f2c24cc52049a8c2/wvmic.inf", 158018, 0x40a50234),
    ("amd64_wvpcinull.inf_31bf3856ad364e35_6.3.9600.19456_none_51b6e70bcdf047ee/wvpcinull.inf", 21284, 0xd452de61),
];

const KB2584475_MSU: &[(&str, u64, u32)] = &[
    ("WSUSSCAN.cab", 160328, 0xd28c41cf),
    ("Windows6.1-KB2584475-x64.cab", 95265, 0x69df2fdd),
    ("Windows6.1-KB2584475-x64-pkgProperties.txt", 552, 0x14d8e39d),
    ("Windows6.1-KB2584475-x64.xml", 446, 0xc72f80b3),
];

const KB2584475_INNER: &[(&str, u64, u32)] = &[
    ("_manifest_.cix.xml", 12940, 0x6e5b0976),
    ("update.mum", 3073, 0x95316443),
    ("update.cat", 7378, 0x240af5ef),
    ("0", 6723, 0x1b7e14c4),
    ("1", 229, 0x1af2ecd4),
    ("2", 49666, 0xd0803de2),
    ("3", 233, 0x490a8db2),
    ("4", 4712, 0x97a34556),
    ("5", 219, 0xa509fa3e),
    ("6", 3231, 0xa9505c49),
    ("7", 226, 0x66d61dd1),
    ("8", 2099, 0x6313abb6),
    ("9", 55, 0x62d614f9),
    ("10", 999, 0x08541594),
    ("11", 56, 0x1e17d459),
    ("package_for_kb2584475_sp1~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2579, 0x0c9ec80e),
    ("package_for_kb2584475_sp1~31bf3856ad364e35~amd64~~6.1.1.0.cat", 7378, 0x0e527178),
    ("package_for_kb2584475_rtm~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2578, 0x6ec5b0f6),
    ("package_for_kb2584475_rtm~31bf3856ad364e35~amd64~~6.1.1.0.cat", 7378, 0xc40a33ce),
    ("package_6_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2011, 0xb7af5a2f),
    ("package_6_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.cat", 8852, 0x7fecca2c),
    ("package_5_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2001, 0x878d249a),
    ("package_5_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.cat", 8256, 0x3e013b46),
    ("package_4_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.mum", 3165, 0xc7893c60),
    ("package_4_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.cat", 9730, 0x9313b58c),
    ("package_3_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.mum", 1829, 0x1cc62cb9),
    ("package_3_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.cat", 8852, 0x4e29cd21),
    ("package_2_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.mum", 1821, 0xc36530f5),
    ("package_2_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.cat", 8256, 0xc90db0ea),
    ("package_1_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2757, 0x20d28739),
    ("package_1_for_kb2584475~31bf3856ad364e35~amd64~~6.1.1.0.cat", 9730, 0x742a9a81),
    ("amd64_sffdisk.inf_31bf3856ad364e35_6.1.7601.21824_none_02e05f1d19af3413.manifest", 3363, 0x8d8496e8),
    ("amd64_sffdisk.inf_31bf3856ad364e35_6.1.7600.21058_none_00dd69b71c9db771.manifest", 3363, 0x1f93efe5),
    ("amd64_sdbus.inf_31bf3856ad364e35_6.1.7601.21824_none_d08792ddfa1c5224.manifest", 2079, 0x88b3d4df),
    ("amd64_sdbus.inf_31bf3856ad364e35_6.1.7600.21058_none_ce849d77fd0ad582.manifest", 2079, 0x5038e6ef),
];

const KB2465285_MSU: &[(&str, u64, u32)] = &[
    ("WSUSSCAN.cab", 162994, 0xf0991e2e),
    ("Windows6.1-KB2465285-x64.cab", 126073, 0xd33edb80),
    ("Windows6.1-KB2465285-x64-pkgProperties.txt", 552, 0x93e075aa),
    ("Windows6.1-KB2465285-x64.xml", 446, 0xdc6c0cf9),
];

const KB2465285_INNER: &[(&str, u64, u32)] = &[
    ("_manifest_.cix.xml", 13069, 0x66ee3cd2),
    ("update.mum", 2338, 0xdefaaeda),
    ("update.cat", 7394, 0x9546a147),
    ("package_for_kb2465285_sp1~31bf3856ad364e35~amd64~~6.1.1.0.mum", 1920, 0xe7f4aacb),
    ("package_for_kb2465285_sp1~31bf3856ad364e35~amd64~~6.1.1.0.cat", 7394, 0xb0b5b838),
    ("package_for_kb2465285_rtm~31bf3856ad364e35~amd64~~6.1.1.0.mum", 1942, 0x0e105598),
    ("package_for_kb2465285_rtm~31bf3856ad364e35~amd64~~6.1.1.0.cat", 7394, 0x38469048),
    ("package_4_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2001, 0x7c7458da),
    ("package_4_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.cat", 10334, 0xc5524cf3),
    ("package_3_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.mum", 2039, 0x54fc9fad),
    ("package_3_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.cat", 10334, 0x5239140f),
    ("package_2_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.mum", 1809, 0xd56627a0),
    ("package_2_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.cat", 10334, 0x5f4df080),
    ("package_1_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.mum", 1839, 0x0c154705),
    ("package_1_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.cat", 10334, 0x234aeffb),
    ("0", 36988, 0xe2b3f396),
    ("1", 5222, 0x93a81243),
    ("2", 8834, 0xeaaea4e3),
    ("3", 645, 0xba761b40),
    ("4", 53, 0xaaa70e2a),
    ("5", 275, 0x8fe6701b),
    ("6", 53, 0x0200e19f),
    (
        "amd64_ba59922f493b824b6e17cdfef645d5ce_31bf3856ad364e35_6.1.7600.20864_none_73887137301e2cfa.manifest",
        705,
        0x78d6d98f,
    ),
    (
        "amd64_a24aca900e305a3ff52a8f353b7f8081_31bf3856ad364e35_6.1.7601.21624_none_c609d68e2541c5d8.manifest",
        705,
        0xeca4e9a8,
    ),
    ("7", 44514, 0x4223670c),
    ("8", 278, 0xa77fd2a5),
    (
        "amd64_microsoft-windows-networkbridge_31bf3856ad364e35_6.1.7601.21624_none_668ec32935dadf23.manifest",
        10170,
        0x6e796536,
    ),
    ("9", 393, 0xd30246ed),
    ("10", 1466, 0xb6819481),
    ("11", 420, 0x34264434),
    (
        "amd64_microsoft-windows-networkbridge_31bf3856ad364e35_6.1.7600.20864_none_647d267338d4e2fb.manifest",
        10170,
        0x709f8283,
    ),
];

// ---------------------------------------------------------------------------------------------
// Real packages
// ---------------------------------------------------------------------------------------------

/// Checks the member list against the facts, reads every member one by one and in one pass, and
/// compares sizes and CRC-32s.
fn check_members<R: Read + std::io::Seek>(cab: &mut Cabinet<R>, facts: &[(&str, u64, u32)], compression: Compression) {
    let listed: Vec<(String, u64)> = cab.members().iter().map(|m| (m.path.clone(), m.size)).collect();
    let expected: Vec<(String, u64)> = facts.iter().map(|&(n, s, _)| (n.to_owned(), s)).collect();
    assert_eq!(listed, expected, "{}", cab.package());
    for m in cab.members() {
        assert_eq!(m.compression, compression, "{}", m.name);
        assert_eq!(m.name.replace('\\', "/"), m.path);
    }
    for &(name, size, crc) in facts {
        let mut bytes = Vec::new();
        cab.open_member(name).unwrap().read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, size, "{name}");
        assert_eq!(crc32(&bytes), crc, "{name}");
    }
    let mut seen = HashMap::new();
    cab.for_each_member(|m, r| {
        let mut bytes = Vec::new();
        r.read_to_end(&mut bytes)?;
        seen.insert(m.path.clone(), (bytes.len() as u64, crc32(&bytes)));
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    assert_eq!(seen.len(), facts.len());
    for &(name, size, crc) in facts {
        assert_eq!(seen[name], (size, crc), "{name}");
    }
}

const LZX21: Compression = Compression::Lzx { window_bits: 21 };

#[test]
fn real_packages_kinds() {
    let dir = real_or_skip!("real_packages_kinds");
    let kinds = [
        ("Windows8.1-KB2938772-x64.cab", ContainerKind::CbsCab),
        ("Windows6.x-HyperVIntegrationServices-x64.cab", ContainerKind::CbsCab),
        ("Windows6.1-KB2584475-x64.msu", ContainerKind::Msu),
        ("Windows6.1-KB2465285-x64.msu", ContainerKind::Msu),
    ];
    for (file, kind) in kinds {
        assert_eq!(detect_path(dir.join(file), Limits::default()).unwrap(), kind, "{file}");
    }
}

#[test]
fn real_kb2938772_cab() {
    let dir = real_or_skip!("real_kb2938772_cab");
    let mut cab = Cabinet::open(dir.join("Windows8.1-KB2938772-x64.cab"), Limits::default()).unwrap();
    assert_eq!(cab.members().len(), 24);
    assert_eq!(cab.folders().len(), 1);
    assert_eq!(cab.folders()[0].data_blocks, 32);
    assert_eq!(cab.folders()[0].compression.name(), "LZX:21");
    // Not signed: no header reserve, nothing after the cabinet.
    assert!(!cab.is_signed());
    assert_eq!((cab.cabinet_size(), cab.trailing_bytes()), (364_329, 0));
    check_members(&mut cab, KB2938772_CAB, LZX21);
    // Windows-style lookups.
    assert!(cab.contains("UPDATE.MUM"));
    let payload = "amd64_netrasa.inf_31bf3856ad364e35_6.3.9600.17039_none_9968574d24ae0f79\\netrasa.inf";
    assert_eq!(cab.member(payload).unwrap().size, 25_220);
    assert_eq!(cab.member(&payload.replace('\\', "/").to_uppercase()).unwrap().size, 25_220);
    let mum = cab.read_member("update.mum", 1 << 20).unwrap();
    assert!(mum.starts_with(b"\xEF\xBB\xBF<?xml"), "update.mum starts with a BOM");
    assert_eq!(classify_cabinet(&mut cab).unwrap(), ContainerKind::CbsCab);
}

#[test]
fn real_hyperv_cab() {
    let dir = real_or_skip!("real_hyperv_cab");
    let mut cab = Cabinet::open(dir.join("Windows6.x-HyperVIntegrationServices-x64.cab"), Limits::default()).unwrap();
    assert_eq!(cab.members().len(), 64);
    assert_eq!(cab.folders().len(), 1);
    assert_eq!(cab.folders()[0].data_blocks, 96);
    // Signed: 20-byte header reserve pointing at the 8,504-byte signature after cbCabinet.
    assert!(cab.is_signed());
    assert_eq!(cab.header_reserve().len(), 20);
    assert_eq!((cab.cabinet_size(), cab.trailing_bytes()), (681_036, 8_504));
    check_members(&mut cab, HYPERV_CAB, LZX21);
    assert_eq!(cab.members().iter().filter(|m| m.path.ends_with(".manifest")).count(), 15);
}

struct RealMsu {
    file: &'static str,
    kb: &'static str,
    outer: &'static [(&'static str, u64, u32)],
    inner: &'static [(&'static str, u64, u32)],
    inner_signature: u64,
    outer_signature: u64,
    pa30: usize,
    scan_total: u64,
}

const REAL_MSUS: &[RealMsu] = &[
    RealMsu {
        file: "Windows6.1-KB2584475-x64.msu",
        kb: "2584475",
        outer: KB2584475_MSU,
        inner: KB2584475_INNER,
        inner_signature: 6_888,
        outer_signature: 6_920,
        pa30: 12,
        scan_total: 2_089_397,
    },
    RealMsu {
        file: "Windows6.1-KB2465285-x64.msu",
        kb: "2465285",
        outer: KB2465285_MSU,
        inner: KB2465285_INNER,
        inner_signature: 6_904,
        outer_signature: 6_936,
        pa30: 12,
        scan_total: 2_082_265,
    },
];

#[test]
fn real_classic_msus() {
    let dir = real_or_skip!("real_classic_msus");
    for real in REAL_MSUS {
        let path = dir.join(real.file);
        let mut msu = Msu::open(&path, Limits::default()).unwrap();
        assert_eq!(msu.kind(), &ContainerKind::Msu);
        assert_eq!(msu.package(), path.display().to_string());
        let inner_name = format!("Windows6.1-KB{}-x64.cab", real.kb);
        assert_eq!(msu.inner_cab_names(), std::slice::from_ref(&inner_name));
        assert!(msu.psf_names().is_empty());
        assert_eq!(msu.kb_number().as_deref(), Some(real.kb));
        let props = msu.properties().unwrap();
        assert_eq!(props.kb_article_number(), Some(real.kb));
        assert_eq!(props.processor_architecture(), Some("amd64"));
        assert_eq!(props.applies_to(), Some("Windows 6.1"));
        assert_eq!(props.get("installer engine"), Some("Component Based Servicing - WUSA.exe"));
        assert_eq!(props.entries().len(), 14);
        let unattend = msu.unattend_xml().unwrap();
        assert!(unattend.contains(&format!("name=\"Package_for_KB{}\"", real.kb)), "{unattend}");
        assert!(unattend.contains(&format!("%configsetroot%\\Windows6.1-KB{}-x64.CAB", real.kb)));

        let outer = msu.cabinet_mut();
        assert!(outer.is_signed());
        assert_eq!(outer.trailing_bytes(), real.outer_signature);
        assert_eq!(outer.folders().len(), 1);
        check_members(outer, real.outer, Compression::MsZip);

        // The inner CBS cab: LZX:21, signed, `_manifest_.cix.xml` and PA30 members `0`…`N`.
        let mut inner = msu.open_inner(&inner_name, None).unwrap();
        assert_eq!(inner.package(), format!("{}!{inner_name}", path.display()));
        assert_eq!(inner.depth(), 1);
        assert!(inner.is_signed());
        assert_eq!(inner.trailing_bytes(), real.inner_signature);
        check_members(&mut inner, real.inner, LZX21);
        assert_eq!(classify_cabinet(&mut inner).unwrap(), ContainerKind::CbsCab);
        assert!(inner.contains("_manifest_.cix.xml"));
        let cix = inner.read_member("_manifest_.cix.xml", 1 << 20).unwrap();
        assert!(decode_text(&cix).contains("urn:ContainerIndex"));
        let numbered: Vec<String> = inner
            .members()
            .iter()
            .filter(|m| !m.path.is_empty() && m.path.bytes().all(|b| b.is_ascii_digit()))
            .map(|m| m.path.clone())
            .collect();
        assert_eq!(numbered.len(), real.pa30);
        for name in numbered {
            let bytes = inner.read_member(&name, 1 << 20).unwrap();
            assert_eq!(&bytes[..4], b"PA30", "{name}");
        }

        // WSUSSCAN.cab → package.cab, two levels down: offline-scan metadata, no update.mum.
        let mut scan = msu.open_inner("wsusscan.cab", None).unwrap();
        assert_eq!(scan.members().len(), 1);
        assert_eq!(classify_cabinet(&mut scan).unwrap(), ContainerKind::Unsupported(NO_UPDATE_MUM_REASON.into()));
        let mut package = scan.open_nested("package.cab", None).unwrap();
        assert_eq!(package.depth(), 2);
        assert_eq!(package.header_reserve().len(), 6_144);
        assert_eq!(package.members().len(), 4_951);
        assert!(package.contains("package.xml") && package.contains("core\\1"));
        let mut total = 0u64;
        let mut count = 0usize;
        package
            .for_each_member(|m, r| {
                let n = std::io::copy(r, &mut std::io::sink())?;
                assert_eq!(n, m.size);
                total += n;
                count += 1;
                Ok::<(), std::io::Error>(())
            })
            .unwrap();
        assert_eq!((count, total), (4_951, real.scan_total));
    }
}

/// A copy of a real file cut short is `Truncated`, wherever the cut falls before `cbCabinet`; a cut
/// inside the appended signature leaves a readable cabinet.
#[test]
fn real_files_truncated() {
    let dir = real_or_skip!("real_files_truncated");
    for file in
        ["Windows8.1-KB2938772-x64.cab", "Windows6.x-HyperVIntegrationServices-x64.cab", "Windows6.1-KB2584475-x64.msu"]
    {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let cabinet_size = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        for cut in [1, 3, 4, 20, 35, 36, 50, 68, 100, 500, 2_000, 30_000, cabinet_size / 2, cabinet_size - 1] {
            let err = Cabinet::new(Cursor::new(bytes[..cut].to_vec()), file, Limits::default()).unwrap_err();
            assert!(matches!(err, Error::Truncated { .. }), "{file} cut at {cut}: {err}");
            assert_eq!(err.package(), file);
        }
        if cabinet_size < bytes.len() {
            let cut = cabinet_size + (bytes.len() - cabinet_size) / 2;
            let mut cab = Cabinet::new(Cursor::new(bytes[..cut].to_vec()), file, Limits::default()).unwrap();
            assert!(!cab.is_signed(), "the signature is cut");
            cab.for_each_member(|_, r| std::io::copy(r, &mut std::io::sink()).map(drop)).unwrap();
        }
    }
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Opens `bytes` and reads everything it lets through, nested cabs included; returns the error, if
/// any. Never panics on any input (that is the point).
fn read_everything(bytes: Vec<u8>, package: &str, limits: Limits) -> Result<u64, Error> {
    let mut cab = Cabinet::new(Cursor::new(bytes), package, limits)?;
    let _ = classify_cabinet(&mut cab);
    let mut total = 0u64;
    cab.for_each_member(|_, r| {
        total += std::io::copy(r, &mut std::io::sink()).map_err(|e| Error::from_io(package, None, e))?;
        Ok::<(), Error>(())
    })?;
    let names: Vec<String> = cab.members().iter().map(|m| m.name.clone()).collect();
    for name in names {
        let mut sink = Vec::new();
        cab.open_member(&name)?.read_to_end(&mut sink).map_err(|e| Error::from_io(package, Some(&name), e))?;
        if name.to_lowercase().ends_with(".cab") {
            if let Ok(mut inner) = cab.open_nested(&name, None) {
                let _ = classify_cabinet(&mut inner);
                inner.for_each_member(|_, r| std::io::copy(r, &mut std::io::sink()).map(drop)).ok();
            }
        }
    }
    Ok(total)
}

/// A copy of a cabinet with every data block checksum set to 0 ("not checked"), and the range of
/// its data blocks.
fn without_checksums(bytes: &[u8]) -> (Vec<u8>, std::ops::Range<usize>) {
    let cab = Cabinet::new(Cursor::new(bytes.to_vec()), "copy", Limits::default()).unwrap();
    let data_reserve = if bytes[30] & 4 != 0 { usize::from(bytes[39]) } else { 0 };
    let mut out = bytes.to_vec();
    let (mut start, mut end) = (usize::MAX, 0);
    for folder in cab.folders() {
        let mut at = folder.data_offset as usize;
        start = start.min(at);
        for _ in 0..folder.data_blocks {
            out[at..at + 4].fill(0);
            at += 8 + data_reserve + usize::from(u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]));
        }
        end = end.max(at);
    }
    (out, start..end)
}

/// Bit flips and byte changes all over the real files: an error naming the package or a clean
/// read, never a panic.
#[test]
fn real_files_bit_flips() {
    let dir = real_or_skip!("real_files_bit_flips");
    // `WIMPATCH_FUZZ_ROUNDS` / `WIMPATCH_FUZZ_SEED` make this a longer fuzzing run by hand.
    let env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let rounds = env("WIMPATCH_FUZZ_ROUNDS", 24);
    let mut rng = Rng(env("WIMPATCH_FUZZ_SEED", 0x5eed_cab5_0000_0001));
    for file in [
        "Windows8.1-KB2938772-x64.cab",
        "Windows6.x-HyperVIntegrationServices-x64.cab",
        "Windows6.1-KB2584475-x64.msu",
        "Windows6.1-KB2465285-x64.msu",
    ] {
        let original = std::fs::read(dir.join(file)).unwrap();
        // Block checksums catch changes to compressed data; a copy without them lets the changes
        // reach the LZX and MSZIP decoders.
        let unchecked = without_checksums(&original);
        let mut outcomes = (0, 0);
        for round in 0..rounds {
            // The directory (first 8 KiB), anywhere, or the data of the copy without checksums.
            let (mut bytes, span) = match round % 3 {
                0 => (original.clone(), 0..original.len().min(8192)),
                1 => (original.clone(), 0..original.len()),
                _ => (unchecked.0.clone(), unchecked.1.clone()),
            };
            for _ in 0..=rng.below(3) {
                let at = span.start + rng.below(span.len());
                bytes[at] ^= 1 << rng.below(8);
            }
            let copy = std::env::var_os("WIMPATCH_FUZZ_DUMP").map(|dump| (dump, bytes.clone()));
            let outcome = std::panic::catch_unwind(|| read_everything(bytes, file, Limits::default()));
            let outcome = outcome.unwrap_or_else(|panic| {
                if let Some((dump, bytes)) = copy {
                    std::fs::write(dump, bytes).unwrap();
                }
                std::panic::resume_unwind(panic)
            });
            match outcome {
                Ok(_) => outcomes.0 += 1,
                Err(e) => {
                    assert!(e.package().starts_with(file), "{e}");
                    assert!(e.to_string().starts_with(file), "{e}");
                    outcomes.1 += 1;
                }
            }
        }
        assert_eq!(outcomes.0 + outcomes.1, rounds);
        assert!(outcomes.1 > 0, "{file}: no change was noticed");
    }
}

// ---------------------------------------------------------------------------------------------
// Cabinets built here
// ---------------------------------------------------------------------------------------------

/// One CFFILE entry to forge: raw name bytes, size, offset in its folder, folder index.
pub(crate) struct Entry<'a> {
    pub(crate) name: &'a [u8],
    pub(crate) size: u32,
    pub(crate) offset: u32,
    pub(crate) folder: u16,
}

/// Hand-assembles a cabinet with stored (uncompressed) folders: header, folder table, member
/// table, then each folder's data in blocks of at most 32 KiB. Entries are written as given, so
/// any lie (name, size, offset, folder) can be told.
fn forge(folders: &[&[u8]], entries: &[Entry<'_>]) -> Vec<u8> {
    let stored: Vec<(u16, Vec<Vec<u8>>)> = folders
        .iter()
        .map(|folder| {
            let blocks = folder
                .chunks(32_768)
                .map(|block| {
                    let mut framed = Vec::with_capacity(8 + block.len());
                    framed.extend_from_slice(&0u32.to_le_bytes());
                    framed.extend_from_slice(&(block.len() as u16).to_le_bytes());
                    framed.extend_from_slice(&(block.len() as u16).to_le_bytes());
                    framed.extend_from_slice(block);
                    framed
                })
                .collect();
            (0, blocks)
        })
        .collect();
    forge_blocks(&stored, entries)
}

/// Like [`forge`], with each folder given as `(typeCompress, CFDATA blocks already framed)`.
pub(crate) fn forge_blocks(folders: &[(u16, Vec<Vec<u8>>)], entries: &[Entry<'_>]) -> Vec<u8> {
    let files_offset = 36 + 8 * folders.len();
    let files_len: usize = entries.iter().map(|e| 17 + e.name.len()).sum();
    let mut data_offset = files_offset + files_len;
    let mut folder_table = Vec::new();
    let mut data = Vec::new();
    for (compression, blocks) in folders {
        folder_table.extend_from_slice(&(data_offset as u32).to_le_bytes());
        folder_table.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
        folder_table.extend_from_slice(&compression.to_le_bytes());
        for block in blocks {
            data.extend_from_slice(block);
            data_offset += block.len();
        }
    }
    let total = files_offset + files_len + data.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"MSCF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(files_offset as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[3, 1]);
    out.extend_from_slice(&(folders.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0x34, 0x12, 0, 0]);
    out.extend_from_slice(&folder_table);
    for e in entries {
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&e.offset.to_le_bytes());
        out.extend_from_slice(&e.folder.to_le_bytes());
        out.extend_from_slice(&[0x21, 0x53, 0x00, 0x60, 0x20, 0x00]);
        out.extend_from_slice(e.name);
        out.push(0);
    }
    out.extend_from_slice(&data);
    assert_eq!(out.len(), total);
    out
}

/// A one-folder stored cabinet holding `files` in order.
fn stored(files: &[(&str, &[u8])]) -> Vec<u8> {
    let data: Vec<u8> = files.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    let mut offset = 0u32;
    let entries: Vec<Entry<'_>> = files
        .iter()
        .map(|(name, d)| {
            let e = Entry { name: name.as_bytes(), size: d.len() as u32, offset, folder: 0 };
            offset += d.len() as u32;
            e
        })
        .collect();
    forge(&[&data], &entries)
}

/// Files of a folder to build: name and content.
type Files<'a> = &'a [(&'a str, &'a [u8])];

/// A cabinet written by the `cab` crate's writer: one folder per `(compression, files)`.
fn built(folders: &[(cab::CompressionType, Files<'_>)]) -> Vec<u8> {
    let mut builder = cab::CabinetBuilder::new();
    for (ctype, files) in folders {
        let folder = builder.add_folder(*ctype);
        for (name, _) in *files {
            folder.add_file(*name);
        }
    }
    let mut writer = builder.build(Cursor::new(Vec::new())).unwrap();
    let mut contents = folders.iter().flat_map(|(_, files)| files.iter().map(|(_, d)| *d));
    while let Some(mut file) = writer.next_file().unwrap() {
        file.write_all(contents.next().unwrap()).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn open(bytes: Vec<u8>, package: &str) -> Result<Cabinet<Cursor<Vec<u8>>>, Error> {
    Cabinet::new(Cursor::new(bytes), package, Limits::default())
}

fn open_with(bytes: Vec<u8>, package: &str, limits: Limits) -> Result<Cabinet<Cursor<Vec<u8>>>, Error> {
    Cabinet::new(Cursor::new(bytes), package, limits)
}

fn read_all(cab: &mut Cabinet<Cursor<Vec<u8>>>, name: &str) -> Result<Vec<u8>, Error> {
    let package = cab.package().to_owned();
    let mut out = Vec::new();
    cab.open_member(name)?.read_to_end(&mut out).map_err(|e| Error::from_io(&package, Some(name), e))?;
    Ok(out)
}

/// Pseudo-random bytes (incompressible).
pub(crate) fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    (0..len).map(|_| rng.next() as u8).collect()
}

#[test]
fn multi_folder_cabinet() {
    let text: Vec<u8> = (0..120_000u32).map(|i| b"servicing "[i as usize % 10]).collect();
    let random = noise(70_000, 7);
    let bytes = built(&[
        (cab::CompressionType::None, &[("a.txt", b"alpha"), ("dir\\b.bin", &random)]),
        (cab::CompressionType::MsZip, &[("c.txt", &text), ("Dir\\D.txt", b"delta")]),
        (cab::CompressionType::MsZip, &[("e\\f\\g.dat", &random[..5_000])]),
    ]);
    let mut cab = open(bytes, "multi.cab").unwrap();
    assert_eq!(cab.folders().len(), 3);
    let listed: Vec<(&str, &str, u64, u16, String)> = cab
        .members()
        .iter()
        .map(|m| (m.name.as_str(), m.path.as_str(), m.size, m.folder, m.compression.name()))
        .collect();
    assert_eq!(
        listed,
        [
            ("a.txt", "a.txt", 5, 0, "none".to_owned()),
            ("dir\\b.bin", "dir/b.bin", 70_000, 0, "none".to_owned()),
            ("c.txt", "c.txt", 120_000, 1, "MSZIP".to_owned()),
            ("Dir\\D.txt", "Dir/D.txt", 5, 1, "MSZIP".to_owned()),
            ("e\\f\\g.dat", "e/f/g.dat", 5_000, 2, "MSZIP".to_owned()),
        ]
    );
    assert_eq!(read_all(&mut cab, "A.TXT").unwrap(), b"alpha");
    assert_eq!(read_all(&mut cab, "DIR/B.BIN").unwrap(), random);
    assert_eq!(read_all(&mut cab, "c.txt").unwrap(), text);
    assert_eq!(read_all(&mut cab, "dir/d.txt").unwrap(), b"delta");
    assert_eq!(cab.read_member("E/F/G.DAT", 5_000).unwrap(), &random[..5_000]);
    let err = cab.read_member("c.txt", 1_000).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::ReadLimit, size: 120_000, max: 1_000, .. }), "{err}");
    let err = cab.open_member("missing.txt").unwrap_err();
    assert!(
        matches!(&err, Error::MemberNotFound { package, member } if package == "multi.cab" && member == "missing.txt")
    );

    // One pass: folder by folder, in data order; bytes left unread are skipped.
    let mut order = Vec::new();
    cab.for_each_member(|m, r| {
        let mut first = [0u8; 1];
        r.read_exact(&mut first)?;
        order.push((m.path.clone(), first[0]));
        Ok::<(), std::io::Error>(())
    })
    .unwrap();
    let expected: Vec<(String, u8)> =
        [("a.txt", b'a'), ("dir/b.bin", random[0]), ("c.txt", b's'), ("Dir/D.txt", b'd'), ("e/f/g.dat", random[0])]
            .iter()
            .map(|&(p, b)| (p.to_owned(), b))
            .collect();
    assert_eq!(order, expected);

    // A callback's own error stops the pass and comes back as is.
    let err = cab.for_each_member(|_, _| Err::<(), Stop>(Stop("stop".to_owned()))).unwrap_err();
    assert_eq!(err, Stop("stop".to_owned()));
}

/// A callback's own error type.
#[derive(Debug, PartialEq)]
struct Stop(String);

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop(e.to_string())
    }
}

#[test]
fn unsafe_member_names() {
    let cases: &[(&[u8], NameError)] = &[
        (b"../evil", NameError::ParentComponent),
        (b"..\\evil", NameError::ParentComponent),
        (b"a\\..\\..\\evil", NameError::ParentComponent),
        (b"a/./b", NameError::DotComponent),
        (b"/etc/passwd", NameError::Absolute),
        (b"\\Windows\\System32\\evil.dll", NameError::Absolute),
        (b"\\\\server\\share\\x", NameError::Absolute),
        (b"C:\\Windows\\evil.dll", NameError::DriveLetter),
        (b"c:evil", NameError::DriveLetter),
        (b"file.txt:stream", NameError::ReservedChar(':')),
        (b"a\x01b", NameError::ControlChar(1)),
        (b"a\tb", NameError::ControlChar(9)),
        (b"a\x7fb", NameError::ControlChar(0x7f)),
        (b"a\\\\b", NameError::EmptyComponent),
        (b"a/", NameError::EmptyComponent),
        (b"what?.txt", NameError::ReservedChar('?')),
        (b"dir\\name. ", NameError::TrailingDotOrSpace("name. ".into())),
        (b"CON", NameError::ReservedDeviceName("CON".into())),
        (b"x\\nul.txt", NameError::ReservedDeviceName("nul.txt".into())),
        (b"com1.sys", NameError::ReservedDeviceName("com1.sys".into())),
    ];
    for (name, reason) in cases {
        let bytes = forge(&[b"x"], &[Entry { name, size: 1, offset: 0, folder: 0 }]);
        let err = open(bytes, "evil.cab").unwrap_err();
        match &err {
            Error::UnsafeMemberName { package, member, reason: got } => {
                assert_eq!(package, "evil.cab");
                assert_eq!(member.as_bytes(), *name);
                assert_eq!(got, reason, "{member:?}");
            }
            other => panic!("{name:?}: {other}"),
        }
        let text = err.to_string();
        assert!(text.starts_with("evil.cab: unsafe member name"), "{text}");
    }
    // A cab of only an empty name.
    let err = open(forge(&[b"x"], &[Entry { name: b"", size: 1, offset: 0, folder: 0 }]), "e.cab").unwrap_err();
    assert!(matches!(err, Error::UnsafeMemberName { reason: NameError::Empty, .. }), "{err}");
    // Names that are fine, including ones close to the refused ones.
    for ok in [
        "a..b",
        "..a",
        "x\\cons.d\\consoles.txt",
        "com10",
        "LPT0.txt",
        "package_1_for_kb2465285~31bf3856ad364e35~amd64~~6.1.1.0.mum",
    ] {
        assert!(normalize_member_name(ok).is_ok(), "{ok}");
    }
    assert_eq!(normalize_member_name("amd64_x\\y\\z.dll").unwrap(), "amd64_x/y/z.dll");
}

#[test]
fn duplicate_members() {
    for (first, second) in [("update.mum", "UPDATE.MUM"), ("dir\\x.dll", "dir/x.dll"), ("Dir\\X.dll", "dir\\x.DLL")] {
        let bytes = stored(&[(first, b"one"), (second, b"two")]);
        let err = open(bytes, "dup.cab").unwrap_err();
        match &err {
            Error::DuplicateMember { package, member, first: f } => {
                assert_eq!((package.as_str(), member.as_str(), f.as_str()), ("dup.cab", second, first));
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("dup.cab"));
    }
}

#[test]
fn truncated_cabinets() {
    let bytes = stored(&[("update.mum", b"<assembly/>"), ("payload\\file.dll", &[0x4d; 40_000])]);
    let cab = open(bytes.clone(), "t.cab").unwrap();
    assert_eq!(cab.members().len(), 2);
    assert!(matches!(open(Vec::new(), "t.cab").unwrap_err(), Error::NotACabinet { .. }));
    // Every cut: the header's cbCabinet no longer fits.
    for cut in 1..bytes.len() {
        let err = open(bytes[..cut].to_vec(), "t.cab").unwrap_err();
        assert!(matches!(&err, Error::Truncated { package, .. } if package == "t.cab"), "cut {cut}: {err}");
    }
    // Cuts with cbCabinet patched to match: the member table or a data block runs out.
    for cut in [40, 50, 60, 70, 80, 100, 5_000, bytes.len() - 1] {
        let mut short = bytes[..cut].to_vec();
        short[8..12].copy_from_slice(&(cut as u32).to_le_bytes());
        let err = open(short, "t.cab").unwrap_err();
        assert!(matches!(err, Error::Truncated { .. }), "cut {cut}: {err}");
    }
}

#[test]
fn huge_declared_sizes() {
    // A member declaring 4 GiB in a folder of 10 bytes.
    let bytes = forge(&[b"0123456789"], &[Entry { name: b"big.bin", size: 0xFFFF_FF00, offset: 0, folder: 0 }]);
    let err = open(bytes, "huge.cab").unwrap_err();
    assert!(matches!(&err, Error::Corrupt { member: Some(m), .. } if m == "big.bin"), "{err}");
    assert!(err.to_string().contains("huge.cab"));

    // Above max_member_bytes: listed, refused before decoding.
    let limits = Limits { max_member_bytes: 1_000, ..Limits::default() };
    let mut cab = open_with(stored(&[("big.bin", &[7; 5_000]), ("small.txt", b"ok")]), "limit.cab", limits).unwrap();
    assert_eq!(cab.member("big.bin").unwrap().size, 5_000);
    let err = cab.open_member("big.bin").unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::MemberBytes, size: 5_000, max: 1_000, .. }), "{err}");
    assert_eq!(read_all(&mut cab, "small.txt").unwrap(), b"ok");
    let err = cab.for_each_member(|_, _| Ok::<(), Error>(())).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::MemberBytes, .. }), "{err}");

    // A folder declaring 65,535 data blocks in a file of 100 bytes.
    let mut bytes = stored(&[("a", b"abc")]);
    let folder_blocks = 36 + 4;
    bytes[folder_blocks..folder_blocks + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    assert!(matches!(open(bytes, "blocks.cab").unwrap_err(), Error::Truncated { .. }));

    // A data block declaring 40,000 bytes out (the format's limit is 32 KiB).
    let mut bytes = stored(&[("a", b"abc")]);
    let block = bytes.len() - 3 - 8;
    bytes[block + 6..block + 8].copy_from_slice(&40_000u16.to_le_bytes());
    let err = open(bytes, "block.cab").unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");

    // More members than max_members.
    let limits = Limits { max_members: 2, ..Limits::default() };
    let err = open_with(stored(&[("a", b"1"), ("b", b"2"), ("c", b"3")]), "many.cab", limits).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::Members, size: 3, max: 2, .. }), "{err}");
}

#[test]
fn overlapping_members_and_folders() {
    // Two members sharing bytes: the overlapping-entries bomb.
    let data = [9u8; 100];
    let entries =
        [Entry { name: b"a", size: 100, offset: 0, folder: 0 }, Entry { name: b"b", size: 100, offset: 50, folder: 0 }];
    let err = open(forge(&[&data], &entries), "overlap.cab").unwrap_err();
    assert!(matches!(&err, Error::Corrupt { member: Some(m), .. } if m == "b"), "{err}");

    // Two folders pointing at the same data blocks.
    let mut bytes = forge(
        &[b"abc", b"def"],
        &[Entry { name: b"a", size: 3, offset: 0, folder: 0 }, Entry { name: b"b", size: 3, offset: 0, folder: 1 }],
    );
    let first = bytes[36..40].to_vec();
    bytes[44..48].copy_from_slice(&first);
    let err = open(bytes, "folders.cab").unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");

    // A member in a folder that does not exist.
    let err = open(forge(&[b"abc"], &[Entry { name: b"a", size: 3, offset: 0, folder: 4 }]), "f.cab").unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
}

#[test]
fn unsupported_features() {
    // A member continued from a previous cabinet of a set.
    let err =
        open(forge(&[b"abc"], &[Entry { name: b"a", size: 3, offset: 0, folder: 0xFFFD }]), "set.cab").unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    // The header flag of a multi-cabinet set.
    let mut bytes = stored(&[("a", b"abc")]);
    bytes[30] |= 0x02;
    assert!(matches!(open(bytes, "set.cab").unwrap_err(), Error::Unsupported { .. }));
    // Quantum: listed, not decoded.
    let mut bytes = stored(&[("a", b"abc")]);
    bytes[42..44].copy_from_slice(&0x1472u16.to_le_bytes());
    let mut cab = open(bytes, "q.cab").unwrap();
    assert_eq!(cab.members()[0].compression, Compression::Quantum { level: 7, memory: 20 });
    assert!(matches!(cab.open_member("a").unwrap_err(), Error::Unsupported { .. }));
    // An unknown compression type.
    let mut bytes = stored(&[("a", b"abc")]);
    bytes[42..44].copy_from_slice(&0x0007u16.to_le_bytes());
    assert!(matches!(open(bytes, "x.cab").unwrap_err(), Error::Corrupt { .. }));
    // Not a cabinet at all.
    assert!(matches!(open(b"hello, world".to_vec(), "x.txt").unwrap_err(), Error::NotACabinet { .. }));
}

#[test]
fn decompression_bombs() {
    // 4 MiB of zeros, then 1 MiB of noise, in one MSZIP folder: the folder's declared ratio is
    // about 5:1, so reading starts, and the zeros (hundreds to one) are stopped while read.
    let zeros = vec![0u8; 4 << 20];
    let random = noise(1 << 20, 11);
    let bytes = built(&[(cab::CompressionType::MsZip, &[("zeros.bin", &zeros), ("noise.bin", &random)])]);
    let limits = Limits { max_ratio: 20, ..Limits::default() };
    let mut cab = open_with(bytes.clone(), "bomb.cab", limits).unwrap();
    let folder = &cab.folders()[0];
    assert!(folder.uncompressed_size / folder.compressed_size < 20);
    let mut reader = cab.open_member("zeros.bin").unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0u64;
    let err = loop {
        match reader.read(&mut buf) {
            Ok(0) => panic!("the bomb was read whole"),
            Ok(n) => read += n as u64,
            Err(e) => break Error::from_io("bomb.cab", Some("zeros.bin"), e),
        }
    };
    assert!(read < 1 << 20, "stopped early ({read} bytes)");
    assert!(matches!(&err, Error::Ratio { member: Some(m), max: 20, .. } if m == "zeros.bin"), "{err}");
    assert!(err.to_string().starts_with("bomb.cab, member \"zeros.bin\""), "{err}");
    drop(reader);
    let err = cab.for_each_member(|_, r| std::io::copy(r, &mut std::io::sink()).map(drop)).unwrap_err();
    let err = Error::from_io("bomb.cab", None, err);
    assert!(matches!(err, Error::Ratio { .. }), "{err}");

    // A folder of only zeros: refused from its declared sizes before decoding.
    let bytes = built(&[(cab::CompressionType::MsZip, &[("zeros.bin", &zeros)])]);
    let mut cab = open_with(bytes, "bomb2.cab", limits).unwrap();
    assert!(matches!(cab.open_member("zeros.bin").unwrap_err(), Error::Ratio { .. }));
    // The defaults let the same file through.
    let bytes = built(&[(cab::CompressionType::MsZip, &[("zeros.bin", &zeros)])]);
    let mut cab = open(bytes, "fine.cab").unwrap();
    assert_eq!(read_all(&mut cab, "zeros.bin").unwrap(), zeros);

    // max_total_bytes counts what is decoded, across members and nested cabs.
    let limits = Limits { max_total_bytes: 150, ..Limits::default() };
    let mut cab = open_with(stored(&[("a", &[1; 100]), ("b", &[2; 100])]), "total.cab", limits).unwrap();
    assert_eq!(read_all(&mut cab, "a").unwrap().len(), 100);
    let err = read_all(&mut cab, "b").unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: LimitKind::TotalBytes, max: 150, .. }), "{err}");
}

#[test]
fn corrupt_compressed_data() {
    let text: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let good = built(&[(cab::CompressionType::MsZip, &[("t.bin", &text)])]);
    assert_eq!(read_all(&mut open(good.clone(), "z.cab").unwrap(), "t.bin").unwrap(), text);
    let mut failures = 0;
    let data_start = good.len() - 200;
    for at in data_start..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x55;
        let mut cab = match open(bad, "z.cab") {
            Ok(cab) => cab,
            Err(e) => {
                assert_eq!(e.package(), "z.cab");
                failures += 1;
                continue;
            }
        };
        match read_all(&mut cab, "t.bin") {
            Ok(bytes) => assert_eq!(bytes.len(), text.len()),
            Err(e) => {
                assert!(matches!(e, Error::Corrupt { .. } | Error::Truncated { .. }), "{e}");
                assert_eq!((e.package(), e.member()), ("z.cab", Some("t.bin")), "{e}");
                failures += 1;
            }
        }
    }
    // The writer sets block checksums, so every change is caught.
    assert_eq!(failures, 200);
}

/// Every bit of a small MSZIP cabinet's directory flipped, and bytes all over it changed.
#[test]
fn synthetic_bit_flips() {
    let text: Vec<u8> = (0..40_000u32).map(|i| b"update.mum "[i as usize % 11]).collect();
    let original = built(&[
        (cab::CompressionType::MsZip, &[("update.mum", &text[..3_000]), ("x\\y.dll", &text)]),
        (cab::CompressionType::None, &[("z.txt", b"zzz")]),
    ]);
    let directory = 36 + 16 + 3 * 17 + 30;
    for bit in 0..directory * 8 {
        let mut bytes = original.clone();
        bytes[bit / 8] ^= 1 << (bit % 8);
        if let Err(e) = read_everything(bytes, "flip.cab", Limits::default()) {
            assert_eq!(e.package(), "flip.cab", "{e}");
        }
    }
    let mut rng = Rng(99);
    for _ in 0..300 {
        let mut bytes = original.clone();
        let at = rng.below(bytes.len());
        bytes[at] = rng.next() as u8;
        if let Err(e) = read_everything(bytes, "flip.cab", Limits::default()) {
            assert_eq!(e.package(), "flip.cab", "{e}");
        }
    }
}

#[test]
fn nested_cabinets_and_depth() {
    let innermost = stored(&[("update.mum", b"<assembly/>")]);
    let middle = stored(&[("inner.cab", &innermost)]);
    let outer = stored(&[("middle.cab", &middle)]);
    let limits = Limits { max_nesting: 1, ..Limits::default() };
    let mut cab = open_with(outer.clone(), "outer.cab", limits).unwrap();
    let mut mid = cab.open_nested("MIDDLE.CAB", None).unwrap();
    assert_eq!(mid.package(), "outer.cab!middle.cab");
    assert_eq!(mid.depth(), 1);
    let err = mid.open_nested("inner.cab", None).unwrap_err();
    match &err {
        Error::TooDeep { package, member, depth, max } => {
            assert_eq!(
                (package.as_str(), member.as_deref(), *depth, *max),
                ("outer.cab!middle.cab", Some("inner.cab"), 2, 1)
            );
        }
        other => panic!("{other}"),
    }
    let mut cab = open(outer, "outer.cab").unwrap();
    let mut mid = cab.open_nested("middle.cab", None).unwrap();
    let mut inner = mid.open_nested("inner.cab", None).unwrap();
    assert_eq!(inner.package(), "outer.cab!middle.cab!inner.cab");
    assert_eq!(inner.read_member("update.mum", 100).unwrap(), b"<assembly/>");
    assert_eq!(classify_cabinet(&mut inner).unwrap(), ContainerKind::CbsCab);
    assert!(matches!(
        Cabinet::new_nested(Cursor::new(innermost), "x", Limits { max_nesting: 0, ..Limits::default() }, 1)
            .unwrap_err(),
        Error::TooDeep { depth: 1, max: 0, .. }
    ));
}

/// A nested cab above the in-memory size is spooled to a temporary file (in `scratch_dir`).
#[test]
fn nested_cabinet_spooled_to_disk() {
    let payload = noise(33 << 20, 5);
    let inner = built(&[(cab::CompressionType::None, &[("update.mum", b"<assembly/>"), ("big.bin", &payload)])]);
    assert!(inner.len() as u64 > cbs::container::SPOOL_IN_MEMORY_MAX);
    let outer = built(&[(cab::CompressionType::None, &[("inner.cab", &inner)])]);
    let scratch = tempfile::tempdir().unwrap();
    let mut cab = open(outer, "outer.cab").unwrap();
    let mut nested = cab.open_nested("inner.cab", Some(scratch.path())).unwrap();
    assert_eq!(nested.read_member("big.bin", 64 << 20).unwrap(), payload);
    // The spool file is unlinked: nothing is left in the scratch folder.
    assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Kinds, MSUs, sources
// ---------------------------------------------------------------------------------------------

fn kind_of(bytes: Vec<u8>) -> ContainerKind {
    detect(Cursor::new(bytes), "pkg", Limits::default()).unwrap()
}

#[test]
fn kinds_from_members_and_magic() {
    let unsupported = |why: &str| ContainerKind::Unsupported(why.to_owned());
    assert_eq!(kind_of(stored(&[("Update.MUM", b"<assembly/>"), ("x.manifest", b"")])), ContainerKind::CbsCab);
    // update.mum only counts at the root.
    assert_eq!(kind_of(stored(&[("sub\\update.mum", b"")])), unsupported(NO_UPDATE_MUM_REASON));
    let classic = stored(&[
        ("WSUSSCAN.cab", b"MSCF"),
        ("Windows6.1-KB1-x64.cab", b"MSCF"),
        ("Windows6.1-KB1-x64-pkgProperties.txt", b"KB Article Number=\"1\""),
        ("Windows6.1-KB1-x64.xml", b"<unattend/>"),
    ]);
    assert_eq!(kind_of(classic), ContainerKind::Msu);
    // Without the properties it is not the classic layout.
    assert_eq!(
        kind_of(stored(&[("WSUSSCAN.cab", b""), ("Windows6.1-KB1-x64.cab", b"")])),
        unsupported(NO_UPDATE_MUM_REASON)
    );
    let combined = stored(&[
        ("SSU-19041.3205-x64.cab", b""),
        ("Windows10.0-KB5028166-x64.cab", b""),
        ("Windows10.0-KB5028166-x64-pkgProperties.txt", b""),
        ("WSUSSCAN.cab", b""),
    ]);
    assert_eq!(kind_of(combined), ContainerKind::CombinedMsu);
    assert_eq!(
        kind_of(stored(&[("DesktopDeployment.cab", b""), ("Windows11.0-KB5018427-x64.psf", b"")])),
        ContainerKind::CombinedMsu
    );
    // Hotpatch metadata inside the AggregatedMetadata cab.
    let metadata = stored(&[("LCUCompDB_KB5050000.xml.cab", b""), ("HotpatchCompDB_KB5050000.xml.cab", b"")]);
    let hotpatch = stored(&[("onepackage.AggregatedMetadata.cab", &metadata), ("Windows11.0-KB5050000-x64.cab", b"")]);
    assert_eq!(kind_of(hotpatch), unsupported(HOTPATCH_REASON));
    let metadata = stored(&[("LCUCompDB_KB5050000.xml.cab", b""), ("SSUCompDB_KB5050000.xml.cab", b"")]);
    let lcu = stored(&[("onepackage.AggregatedMetadata.cab", &metadata), ("Windows11.0-KB5050000-x64.cab", b"")]);
    assert_eq!(kind_of(lcu), ContainerKind::CombinedMsu);
    // Defender definition and platform packages.
    assert_eq!(kind_of(stored(&[("mpam-fe.exe", b"MZ")])), unsupported(DEFENDER_REASON));
    assert_eq!(kind_of(stored(&[("mpasbase.vdm", b""), ("mpengine.dll", b"")])), unsupported(DEFENDER_REASON));
    assert_eq!(kind_of(stored(&[("Definition Updates\\x.vdm", b"")])), unsupported(DEFENDER_REASON));
    // A Setup Dynamic Update cab: files for setup, no update.mum.
    assert_eq!(
        kind_of(stored(&[("setupcompat.dll", b""), ("sources\\setup.exe", b"")])),
        unsupported(NO_UPDATE_MUM_REASON)
    );
    // By magic.
    assert_eq!(kind_of(b"MSWIM\0\0\0\xd0\0\0\0".to_vec()), ContainerKind::WimMsu);
    assert!(matches!(kind_of(b"MZ\x90\0\x03\0\0\0".to_vec()), ContainerKind::Unsupported(w) if w.contains(".exe")));
    let ole = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0".to_vec();
    assert!(matches!(kind_of(ole), ContainerKind::Unsupported(w) if w.contains(".msi/.msp")));
    assert!(matches!(kind_of(b"PK\x03\x04rest".to_vec()), ContainerKind::Unsupported(w) if w.contains("ZIP")));
    assert!(matches!(
        detect(Cursor::new(b"<?xml version".to_vec()), "x.xml", Limits::default()).unwrap_err(),
        Error::NotACabinet { package } if package == "x.xml"
    ));
    assert!(matches!(
        detect(Cursor::new(b"MSC".to_vec()), "s", Limits::default()).unwrap_err(),
        Error::Truncated { .. }
    ));
    assert!(!ContainerKind::Unsupported(String::new()).is_supported() && ContainerKind::WimMsu.is_supported());
}

#[test]
fn combined_msu_model() {
    let metadata = stored(&[("LCUCompDB_KB5028166.xml.cab", b"")]);
    let bytes = stored(&[
        ("DesktopDeployment.cab", b""),
        ("onepackage.AggregatedMetadata.cab", &metadata),
        ("Windows10.0-KB5028166-x64.cab", b"lcu"),
        ("SSU-19041.3205-x64.cab", b"ssu"),
        ("Windows10.0-KB5028166-x64.psf", b"psf"),
        ("WSUSSCAN.cab", b""),
    ]);
    let msu = Msu::from_cabinet(open(bytes, "lcu.msu").unwrap()).unwrap();
    assert_eq!(msu.kind(), &ContainerKind::CombinedMsu);
    assert_eq!(msu.inner_cab_names(), ["SSU-19041.3205-x64.cab", "Windows10.0-KB5028166-x64.cab"]);
    assert_eq!(msu.psf_names(), ["Windows10.0-KB5028166-x64.psf"]);
    assert!(msu.properties().is_none() && msu.unattend_xml().is_none());
    // No properties: the KB number comes from the first inner cab with one in its name.
    assert_eq!(msu.kb_number().as_deref(), Some("5028166"));
    // A CBS cab is not an MSU.
    let err = Msu::from_cabinet(open(stored(&[("update.mum", b"")]), "x.cab").unwrap()).unwrap_err();
    assert!(matches!(&err, Error::Unsupported { package, .. } if package == "x.cab"), "{err}");
}

#[test]
fn pkg_properties_encodings() {
    let text = "Applies to=\"Windows 6.1\"\r\nKB Article Number=\"2584475\"\r\nPackage Type=\"Hotfix\"\r\nno equals sign\r\nProcessor Architecture=amd64\r\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut utf8_bom = b"\xEF\xBB\xBF".to_vec();
    utf8_bom.extend_from_slice(text.as_bytes());
    let utf16_no_bom: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for bytes in [text.as_bytes().to_vec(), utf16, utf8_bom, utf16_no_bom] {
        let props = PkgProperties::parse(&bytes);
        assert_eq!(props.entries().len(), 4);
        assert_eq!(props.applies_to(), Some("Windows 6.1"));
        assert_eq!(props.kb_article_number(), Some("2584475"));
        assert_eq!(props.package_type(), Some("Hotfix"));
        assert_eq!(props.processor_architecture(), Some("amd64"));
        assert_eq!(props.get("PACKAGE TYPE"), Some("Hotfix"));
    }
    assert_eq!(decode_text(b"\xFE\xFF\0h\0i"), "hi");
}

#[test]
fn cabinet_as_package_source() {
    let mut cab = open(stored(&[("update.mum", b"<assembly/>"), ("dir\\a.dll", b"MZ")]), "src.cab").unwrap();
    let source: &mut dyn PackageSource = &mut cab;
    assert_eq!(source.package(), "src.cab");
    let listed: Vec<(String, Option<u64>)> = source.list().unwrap().into_iter().map(|e| (e.path, e.size)).collect();
    assert_eq!(listed, [("update.mum".to_owned(), Some(11)), ("dir/a.dll".to_owned(), Some(2))]);
    let mut bytes = Vec::new();
    source.open("DIR/A.DLL").unwrap().read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, b"MZ");
    assert_eq!(source.read("Update.mum", 100).unwrap(), b"<assembly/>");
    assert!(matches!(source.read("update.mum", 3).unwrap_err(), Error::TooLarge { limit: LimitKind::ReadLimit, .. }));
}

#[cfg(unix)]
#[test]
fn directory_source() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("pkg");
    std::fs::create_dir_all(root.join("Amd64_Comp")).unwrap();
    std::fs::write(root.join("update.mum"), b"<assembly/>").unwrap();
    std::fs::write(root.join("Amd64_Comp/File.dll"), b"MZ payload").unwrap();
    std::fs::write(tmp.path().join("secret.txt"), b"outside").unwrap();

    let mut src = DirectorySource::open(&root, Limits::default()).unwrap();
    let listed: Vec<String> = src.list().unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(listed, ["Amd64_Comp/File.dll", "update.mum"]);
    assert_eq!(src.read("UPDATE.MUM", 100).unwrap(), b"<assembly/>");
    assert_eq!(src.read("amd64_comp\\file.DLL", 100).unwrap(), b"MZ payload");
    assert!(matches!(src.read("update.mum", 3).unwrap_err(), Error::TooLarge { .. }));
    for (name, reason) in [
        ("../secret.txt", NameError::ParentComponent),
        ("Amd64_Comp/../../secret.txt", NameError::ParentComponent),
        ("/etc/passwd", NameError::Absolute),
        ("C:\\Windows\\win.ini", NameError::DriveLetter),
    ] {
        match src.open(name).map(drop).unwrap_err() {
            Error::UnsafeMemberName { reason: got, .. } => assert_eq!(got, reason, "{name}"),
            other => panic!("{name}: {other}"),
        }
    }
    assert!(matches!(src.open("missing.mum").map(drop).unwrap_err(), Error::MemberNotFound { .. }));
    assert!(matches!(src.open("Amd64_Comp").map(drop).unwrap_err(), Error::MemberNotFound { .. }));

    // A symbolic link out of the folder is refused, when opened and when listed.
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("link.txt")).unwrap();
    let err = src.open("link.txt").map(drop).unwrap_err();
    assert!(matches!(err, Error::UnsafeMemberName { reason: NameError::SymbolicLink, .. }), "{err}");
    assert!(matches!(src.list().unwrap_err(), Error::UnsafeMemberName { reason: NameError::SymbolicLink, .. }));
    std::fs::remove_file(root.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), root.join("up")).unwrap();
    assert!(matches!(src.open("up/secret.txt").map(drop).unwrap_err(), Error::UnsafeMemberName { .. }));
    std::fs::remove_file(root.join("up")).unwrap();

    // Two names Windows cannot tell apart.
    std::fs::write(root.join("UPDATE.MUM"), b"other").unwrap();
    assert!(matches!(src.list().unwrap_err(), Error::DuplicateMember { .. }));
    let limits = Limits { max_members: 1, ..Limits::default() };
    std::fs::remove_file(root.join("UPDATE.MUM")).unwrap();
    let small = DirectorySource::open(&root, limits).unwrap();
    assert!(matches!(small.list().unwrap_err(), Error::TooLarge { limit: LimitKind::Members, .. }));
    assert!(DirectorySource::open(root.join("update.mum"), Limits::default()).is_err());
}

/// The engine's WIM reader, faked with a map.
struct FakeWim(HashMap<String, Vec<u8>>);

impl WimContent for FakeWim {
    fn list(&self) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = self.0.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, Error> {
        let key = self
            .0
            .keys()
            .find(|k| k.replace('\\', "/").eq_ignore_ascii_case(path))
            .ok_or_else(|| Error::MemberNotFound { package: "fake.wim".into(), member: path.into() })?;
        let bytes = &self.0[key];
        if bytes.len() as u64 > limit {
            return Err(Error::TooLarge {
                package: "fake.wim".into(),
                member: Some(path.into()),
                limit: LimitKind::ReadLimit,
                size: bytes.len() as u64,
                max: limit,
            });
        }
        Ok(bytes.clone())
    }
}

fn fake_wim(files: &[(&str, &[u8])]) -> FakeWim {
    FakeWim(files.iter().map(|(n, d)| ((*n).to_owned(), d.to_vec())).collect())
}

#[test]
fn wim_content() {
    let metadata = stored(&[("LCUCompDB_KB5055523.xml.cab", b"")]);
    let wim = fake_wim(&[
        ("DesktopDeployment.cab", b""),
        ("SSU-26100.3764-x64.cab", b""),
        ("Windows11.0-KB5055523-x64.psf", b""),
        ("Windows11.0-KB5055523-x64.wim", b""),
        ("onepackage.AggregatedMetadata.cab", &metadata),
    ]);
    assert_eq!(classify_wim(&wim, "wim.msu", Limits::default()).unwrap(), ContainerKind::WimMsu);
    let hot = stored(&[("HotpatchCompDB_KB5055523.xml.cab", b"")]);
    let wim_hot = fake_wim(&[("SSU-26100.3764-x64.cab", b""), ("onepackage.AggregatedMetadata.cab", &hot)]);
    assert_eq!(
        classify_wim(&wim_hot, "hot.msu", Limits::default()).unwrap(),
        ContainerKind::Unsupported(HOTPATCH_REASON.into())
    );
    let lcu = fake_wim(&[("update.mum", b"<assembly/>"), ("amd64_x\\y.dll", b"MZ")]);
    assert_eq!(classify_wim(&lcu, "lcu.wim", Limits::default()).unwrap(), ContainerKind::CbsCab);
    let install = fake_wim(&[("Windows\\System32\\ntoskrnl.exe", b"MZ")]);
    assert!(matches!(classify_wim(&install, "install.wim", Limits::default()).unwrap(), ContainerKind::Unsupported(_)));
    let evil = fake_wim(&[("..\\evil", b"")]);
    assert!(matches!(classify_wim(&evil, "evil.wim", Limits::default()).unwrap_err(), Error::UnsafeMemberName { .. }));

    let mut source = WimSource::new(lcu, "lcu.wim", Limits::default());
    let mut listed: Vec<String> = source.list().unwrap().into_iter().map(|e| e.path).collect();
    listed.sort();
    assert_eq!(listed, ["amd64_x/y.dll", "update.mum"]);
    assert_eq!(source.read("UPDATE.MUM", 100).unwrap(), b"<assembly/>");
    let mut bytes = Vec::new();
    source.open("amd64_x\\y.dll").unwrap().read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, b"MZ");
    assert!(matches!(source.read("update.mum", 2).unwrap_err(), Error::TooLarge { .. }));
    assert!(matches!(source.read("../x", 2).unwrap_err(), Error::UnsafeMemberName { .. }));
    let mut evil_source = WimSource::new(evil, "evil.wim", Limits::default());
    assert!(evil_source.list().is_err() && evil_source.read("..\\evil", 10).is_err());
}

#[test]
fn errors_name_package_and_member() {
    let err = Error::Corrupt { package: "p.msu!i.cab".into(), member: Some("m".into()), detail: "bad".into() };
    assert_eq!(err.to_string(), "p.msu!i.cab, member \"m\": corrupt: bad");
    assert_eq!((err.package(), err.member()), ("p.msu!i.cab", Some("m")));
    let err = Error::NotACabinet { package: "x.bin".into() };
    assert_eq!(err.to_string(), "x.bin: not a cabinet file (no MSCF signature)");
    // Through io::Error and back, unchanged.
    let io: std::io::Error = Error::Truncated { package: "p".into(), member: None, detail: "d".into() }.into();
    assert_eq!(io.kind(), std::io::ErrorKind::UnexpectedEof);
    assert!(matches!(Error::from_io("other", None, io), Error::Truncated { package, .. } if package == "p"));
}

#[test]
fn missing_file_is_io_error_naming_it() {
    let path = Path::new("/nonexistent/dir/x.msu");
    let err = Cabinet::open(path, Limits::default()).unwrap_err();
    assert!(matches!(&err, Error::Io { package, .. } if package == "/nonexistent/dir/x.msu"), "{err}");
    assert!(detect_path(path, Limits::default()).is_err());
}

/// Both MSU forms select their packages by one rule, and say why a member is not for the image.
#[test]
fn msu_members_are_packages_skipped_with_a_reason_or_other() {
    use cbs::container::{msu_member, MsuMember};
    for name in ["SSU-26100.1742-x64.cab", "Windows11.0-KB5055523-x64.wim", "windows10.0-kb5034441-x64.cab"] {
        assert_eq!(msu_member(name), MsuMember::Package, "{name}");
    }
    for name in [
        "WSUSSCAN.cab",
        "DesktopDeployment.cab",
        "DesktopDeployment_x86.cab",
        "onepackage.AggregatedMetadata.cab",
        "Windows11.0-KB5055523-x64.mumx.esd",
    ] {
        assert!(matches!(msu_member(name), MsuMember::NotForTheImage(why) if !why.is_empty()), "{name}");
    }
    for name in ["Windows11.0-KB5055523-x64.psf", "Windows11.0-KB5055523-x64-pkgProperties.txt", "unattend.xml"] {
        assert_eq!(msu_member(name), MsuMember::Other, "{name}");
    }
}
