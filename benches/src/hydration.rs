//! Inputs of the PSFX hydration scenario (issue 13): a Windows 11-style `ForwardOnly` cumulative
//! update of the large image whose changed files are all `f\` forward differentials (PA30, SHA-256
//! target hash, made with the encoder) from the image's own RTM files, so `add-package` hydrates
//! every one and makes its `r\`; and the same hydrated files as a tree for the floor,
//! `wimlib-imagex update` adding them into the same new WinSxS folders (and projections).
//!
//! The update raises whole filler components of the image (`fixtures::layout::filler_components`),
//! those with the largest files first, until it has at least `MIN_FILES` files and `MIN_BYTES`
//! bytes. Each new file is its RTM bytes (extracted from the image with `wimlib-imagex extract`)
//! with a monthly fix's worth of deterministic edits: a few overwritten and inserted runs and some
//! scattered 4-byte patches, a few KB in all. Generated once per image and parameters into the
//! bench cache; the encoding runs on two threads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use fixtures::layout::filler_components;
use fixtures::packages::builder::{package_identity, parent_ge};
use fixtures::packages::{cab_bytes, Change, Compression, PackageComponent, PackageDef, PayloadFile, UpdateDef};
use fixtures::profile::{Profile, Size};
use servicing::cbs::delta::{apply_pa30, create, CreateOptions, DeltaLimits};
use servicing::cbs::runtime::{expand, is_wow64, DEFAULT_WINDIR};
use servicing::cbs::Version;

use crate::apply::run;
use crate::delta::Rng;

/// At least this many delta-encoded files (issue 13's benchmark)…
pub const MIN_FILES: usize = 2_000;
/// …and this many hydrated bytes.
pub const MIN_BYTES: u64 = 200_000_000;
/// The update's revision (`10.0.19041.<UBR>`) and KB.
const UBR: u16 = 1_900;
const KB: u32 = 5_000_901;
/// Bumped when the generated inputs change shape, so a stale cache is not reused.
const GENERATION: u32 = 1;

/// What the hydration scenario needs.
pub struct HydrationInputs {
    /// The LCU cab (manifests, `.mum`/`.cat`, `<key-form>\f\<file>` differentials only).
    pub package: PathBuf,
    /// `wimlib-imagex update` commands for the floor: the hydrated full files into their new
    /// WinSxS folders with their projections (hard links, as add-package makes them), and the
    /// image's two hives changed by a byte (add-package rewrites both), as the other add-package
    /// floors do.
    pub update_commands: PathBuf,
    /// Delta-encoded files.
    pub files: usize,
    /// Components raised.
    pub components: usize,
    /// Bytes of the hydrated files.
    pub hydrated_bytes: u64,
    /// Bytes of the forward differentials.
    pub delta_bytes: u64,
    /// Seconds the generation took (when it ran; recorded in the cache).
    pub generation_s: f64,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    files: usize,
    components: usize,
    hydrated_bytes: u64,
    delta_bytes: u64,
    generation_s: f64,
}

/// Generates (or reuses) the inputs against `image` (the `size` Windows 10-like one-edition image);
/// `hives` holds the image's SOFTWARE and COMPONENTS each changed by a byte (see `apply::prepare`).
pub fn prepare(cache: &Path, image: &Path, size: Size, hives: &Path) -> HydrationInputs {
    let stem = image.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    let base = cache.join(format!("hydration-{stem}-{MIN_FILES}f-{}mb-g{GENERATION}", MIN_BYTES / 1_000_000));
    let package = base.join("lcu-forwardonly.cab");
    let tree = base.join("hydrated");
    let meta_path = base.join("meta.json");
    let update_commands = base.join("update-commands.txt");
    let meta: Meta = match std::fs::read(&meta_path).ok().and_then(|b| serde_json::from_slice(&b).ok()) {
        Some(meta) if package.exists() && tree.exists() => meta,
        _ => {
            eprintln!("generating the PSFX hydration LCU against {} (cached for later runs)…", image.display());
            let meta = generate(&base, image, size, &package, &tree);
            std::fs::write(&meta_path, serde_json::to_vec_pretty(&meta).expect("serialize")).expect("write meta");
            meta
        }
    };
    std::fs::write(
        &update_commands,
        format!(
            "add '{}' /\nadd '{}' /Windows/System32/config/SOFTWARE\nadd '{}' /Windows/System32/config/COMPONENTS\n",
            tree.display(),
            hives.join("SOFTWARE").display(),
            hives.join("COMPONENTS").display()
        ),
    )
    .expect("command file");
    HydrationInputs {
        package,
        update_commands,
        files: meta.files,
        components: meta.components,
        hydrated_bytes: meta.hydrated_bytes,
        delta_bytes: meta.delta_bytes,
        generation_s: meta.generation_s,
    }
}

/// One file of the update: where it is, its RTM bytes and its new bytes.
struct Changed {
    new_key_form: String,
    name: String,
    projection: Option<String>,
    rtm: Vec<u8>,
    new: Vec<u8>,
}

fn generate(base: &Path, image: &Path, size: Size, package: &Path, tree: &Path) -> Meta {
    let started = Instant::now();
    let _ = std::fs::remove_dir_all(base);
    std::fs::create_dir_all(base).expect("create hydration cache dir");
    let profile = Profile::win10_amd64();
    let new_version = Version::new(profile.major as u16, profile.minor as u16, profile.build as u16, UBR);

    // Whole components, those with the largest files first, until both minimums are met.
    let mut fillers = filler_components(&profile, size);
    let mean =
        |c: &fixtures::profile::ComponentSpec| c.files.iter().map(|f| f.size).sum::<u64>() / c.files.len() as u64;
    fillers.sort_by_key(|c| std::cmp::Reverse(mean(c)));
    let (mut files, mut bytes) = (0usize, 0u64);
    let chosen: Vec<_> = fillers
        .into_iter()
        .take_while(|c| {
            let more = files < MIN_FILES || bytes < MIN_BYTES;
            files += c.files.len();
            bytes += c.files.iter().map(|f| f.size).sum::<u64>();
            more
        })
        .collect();

    // The RTM files, read from the image in one extraction.
    let rtm_dir = base.join("rtm");
    let list = base.join("rtm-files.txt");
    let mut wanted = String::new();
    for c in &chosen {
        for f in &c.files {
            wanted.push_str(&format!("/Windows/WinSxS/{}/{}\n", c.identity.key_form(), f.name));
        }
    }
    std::fs::write(&list, wanted).expect("write list file");
    run(Command::new("wimlib-imagex")
        .arg("extract")
        .arg(image)
        .arg("1")
        .arg(format!("@{}", list.display()))
        .arg(format!("--dest-dir={}", rtm_dir.display()))
        .args(["--preserve-dir-structure", "--no-acls"]));

    let mut changed = Vec::new();
    for c in &chosen {
        let old_key_form = c.identity.key_form();
        let new_key_form = c.identity.clone().with_version(new_version).key_form();
        let wow64 = is_wow64(c.identity.processor_architecture.as_deref().unwrap_or("neutral"), &profile.arch);
        for f in &c.files {
            let path = rtm_dir.join("Windows/WinSxS").join(&old_key_form).join(&f.name);
            let rtm = std::fs::read(&path).unwrap_or_else(|e| panic!("RTM file {}: {e}", path.display()));
            assert_eq!(rtm.len() as u64, f.size, "{}: the image is not the one the profile describes", path.display());
            let new = monthly_edit(&rtm, &format!("{new_key_form}/{}", f.name));
            // The projection add-package makes (`$(runtime.system32)\` → `Windows/System32/…`).
            let projection = f.destination.as_deref().map(|d| {
                let expanded = expand(d, wow64, DEFAULT_WINDIR).expect("known destination variable");
                let rel = expanded.trim_start_matches("C:\\").replace('\\', "/");
                format!("{}/{}", rel.trim_end_matches('/'), f.name)
            });
            changed.push(Changed { new_key_form: new_key_form.clone(), name: f.name.clone(), projection, rtm, new });
        }
    }
    let _ = std::fs::remove_dir_all(&rtm_dir);
    let _ = std::fs::remove_file(&list);

    // Forward differentials RTM → new, on two threads; each decoded back and checked.
    let deltas = encode_all(&changed);

    // The package: one `<update>` per raised component, as the real leaves are.
    let components: Vec<PackageComponent> = chosen
        .iter()
        .map(|c| PackageComponent {
            identity: c.identity.clone().with_version(new_version),
            files: changed
                .iter()
                .filter(|x| x.new_key_form == c.identity.clone().with_version(new_version).key_form())
                .map(|x| PayloadFile {
                    name: x.name.clone(),
                    destination: c.files.iter().find(|f| f.name == x.name).and_then(|f| f.destination.clone()),
                    bytes: x.new.clone(),
                })
                .collect(),
            registry: c.registry.clone(),
        })
        .collect();
    let foundation =
        profile.packages.iter().map(|p| &p.identity).find(|p| p.name == "Microsoft-Windows-Foundation-Package");
    let foundation = foundation.expect("the profile's foundation package");
    let kb = format!("KB{KB}");
    let package_version = Version::new(profile.build as u16, UBR, 1, 2);
    let mut def = PackageDef::new(
        package_identity("Package_for_RollupFix", package_version, &profile.arch),
        &kb,
        profile.timestamp + 86_400 * 400,
    );
    def.release_type = "Security Update".into();
    def.restart = "required".into();
    def.parent = Some(parent_ge([foundation]));
    def.updates = components
        .into_iter()
        .enumerate()
        .map(|(i, c)| UpdateDef { name: format!("{KB}-{}_neutral_GDR", i + 1), change: Change::Raise(vec![c]) })
        .collect();
    def.extra_xml.push(format!(
        r#"<mum2:customInformation xmlns:mum2="urn:schemas-microsoft-com:asm.v3" Version="{new_version}" PackageFormat="PSFX" PSFXVersion="2" PSFXDeltaFormat="ForwardOnly" />"#
    ));
    // Its members without the full payloads, plus the differentials.
    let mut members: Vec<(String, Vec<u8>)> =
        def.members().into_iter().filter(|(name, _)| !name.contains('\\')).collect();
    let delta_bytes: u64 = deltas.iter().map(|d| d.len() as u64).sum();
    for (c, d) in changed.iter().zip(deltas) {
        members.push((format!("{}\\f\\{}", c.new_key_form, c.name), d));
    }
    drop(def);
    std::fs::write(package, cab_bytes("lcu-forwardonly.cab", &members, Compression::MsZip).expect("cab"))
        .expect("write package");

    // The floor's tree: the full files in their new folders, projections hard-linked to them.
    for c in &changed {
        let full = tree.join("Windows/WinSxS").join(&c.new_key_form).join(&c.name);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("tree dir");
        std::fs::write(&full, &c.new).expect("write hydrated file");
        if let Some(p) = &c.projection {
            let link = tree.join(p);
            std::fs::create_dir_all(link.parent().expect("parent")).expect("tree dir");
            let _ = std::fs::remove_file(&link);
            std::fs::hard_link(&full, &link).expect("hard link projection");
        }
    }
    Meta {
        files: changed.len(),
        components: chosen.len(),
        hydrated_bytes: changed.iter().map(|c| c.new.len() as u64).sum(),
        delta_bytes,
        generation_s: started.elapsed().as_secs_f64(),
    }
}

/// A monthly fix's change to `rtm`, seeded by `seed`: 2–4 runs of 256–1,024 bytes overwritten or
/// inserted, and 16 scattered 4-byte patches (shifted addresses, version stamps).
fn monthly_edit(rtm: &[u8], seed: &str) -> Vec<u8> {
    let mut rng =
        Rng(seed.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)) | 1);
    let mut out = rtm.to_vec();
    for _ in 0..16 {
        if out.len() >= 4 {
            let at = rng.below(out.len() - 3);
            out[at..at + 4].copy_from_slice(&(rng.next() as u32).to_le_bytes());
        }
    }
    for _ in 0..2 + rng.below(3) {
        let n = 256 + rng.below(769);
        let at = rng.below(out.len().max(1));
        let run = rng.bytes(n);
        if rng.below(2) == 0 {
            let end = (at + n).min(out.len());
            out.splice(at..end, run);
        } else {
            out.splice(at..at, run);
        }
    }
    out
}

/// The forward differential of every file (RTM → new), on two threads, in `changed`'s order.
fn encode_all(changed: &[Changed]) -> Vec<Vec<u8>> {
    let limits = DeltaLimits::default();
    let threads = 2;
    let chunk = changed.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = changed
            .chunks(chunk.max(1))
            .map(|part| {
                let limits = &limits;
                s.spawn(move || {
                    part.iter()
                        .map(|c| {
                            let d = create(&c.rtm, &c.new, &CreateOptions::default(), limits).expect("encode");
                            let back = apply_pa30(&c.rtm, &d, limits).expect("decode");
                            assert!(back == c.new, "{}/{}: the differential does not decode", c.new_key_form, c.name);
                            d
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("encoder thread")).collect()
    })
}
