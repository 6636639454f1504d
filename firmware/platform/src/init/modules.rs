//! Kernel modules: which files to load, in which order, and loading them.
//!
//! The board profile names the modules it needs (`kernel_modules`); the
//! order of the files comes from `depmod`'s output under
//! `/lib/modules/<release>/`:
//!
//! - `modules.dep` — `kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko ...`,
//!   each module with all its (transitive) hard dependencies;
//! - `modules.softdep` — `softdep ext4 pre: crc32c`: modules to load before
//!   (or after) one that needs them at run time without a symbol link.
//!   ext4 with `metadata_csum` fails to mount without a crc32c driver;
//! - `modules.alias` — a softdep may name an alias (`crc32c` is provided by
//!   `crc32c_generic`);
//! - `modules.builtin` — modules compiled into the kernel: nothing to load.
//!
//! Files are loaded with `finit_module(2)`. Compressed modules (`.ko.xz`,
//! `.ko.zst`, `.ko.gz`) are not decompressed here: no decompressor crate is
//! in the workspace, so the image builder ships them uncompressed (`xz -d`,
//! then `depmod`); a plain `.ko` next to a compressed name is used when the
//! builder kept `modules.dep` from before decompressing.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// A module's name as the kernel knows it: the file name without the
/// `.ko*` suffix, dashes as underscores (`crc32c-intel` → `crc32c_intel`).
pub fn module_name(path_or_name: &str) -> String {
    let base = path_or_name.rsplit('/').next().unwrap_or(path_or_name);
    let base = base.split(".ko").next().unwrap_or(base);
    base.replace('-', "_")
}

/// What `depmod` wrote, parsed.
#[derive(Debug, Default, Clone)]
pub struct ModuleIndex {
    /// Module name → its file, relative to the modules directory.
    pub files: HashMap<String, String>,
    /// Module name → its hard dependencies as listed (names).
    pub deps: HashMap<String, Vec<String>>,
    /// Module name → soft pre-dependencies (names or aliases).
    pub soft_pre: HashMap<String, Vec<String>>,
    /// Module name → soft post-dependencies (names or aliases).
    pub soft_post: HashMap<String, Vec<String>>,
    /// Alias → the modules that provide it, in file order.
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Modules built into the kernel.
    pub builtin: HashSet<String>,
}

impl ModuleIndex {
    /// Reads the index files from a modules directory
    /// (`/lib/modules/<release>`). `modules.dep` is required; the others
    /// are optional.
    pub fn load(dir: &Path) -> std::io::Result<Self> {
        let dep = std::fs::read_to_string(dir.join("modules.dep"))?;
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        Ok(Self::parse(
            &dep,
            &read("modules.softdep"),
            &read("modules.alias"),
            &read("modules.builtin"),
        ))
    }

    pub fn parse(dep: &str, softdep: &str, alias: &str, builtin: &str) -> Self {
        let mut index = ModuleIndex::default();
        for line in dep.lines() {
            let Some((file, rest)) = line.split_once(':') else {
                continue;
            };
            let file = file.trim();
            if file.is_empty() {
                continue;
            }
            let name = module_name(file);
            let deps = rest.split_whitespace().map(module_name).collect();
            for d in rest.split_whitespace() {
                index
                    .files
                    .entry(module_name(d))
                    .or_insert_with(|| d.to_string());
            }
            index.files.insert(name.clone(), file.to_string());
            index.deps.insert(name, deps);
        }
        for line in softdep.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("softdep") {
                continue;
            }
            let Some(module) = words.next() else { continue };
            let module = module_name(module);
            let mut post = false;
            for w in words {
                match w {
                    "pre:" => post = false,
                    "post:" => post = true,
                    name => {
                        let map = if post {
                            &mut index.soft_post
                        } else {
                            &mut index.soft_pre
                        };
                        map.entry(module.clone())
                            .or_default()
                            .push(name.to_string());
                    }
                }
            }
        }
        for line in alias.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(alias), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                index
                    .aliases
                    .entry(alias.to_string())
                    .or_default()
                    .push(module_name(module));
            }
        }
        index.builtin = builtin
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(module_name)
            .collect();
        index
    }

    /// A softdep target (a module name or an alias) as a module name,
    /// preferring one the board asked for.
    fn resolve(&self, name: &str, wanted: &[String]) -> Option<String> {
        let as_module = module_name(name);
        if self.files.contains_key(&as_module) || self.builtin.contains(&as_module) {
            return Some(as_module);
        }
        let providers = self.aliases.get(name)?;
        providers
            .iter()
            .find(|p| wanted.iter().any(|w| module_name(w) == **p))
            .or_else(|| providers.iter().find(|p| self.files.contains_key(*p)))
            .cloned()
    }
}

/// One step of the load plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Load this file (relative to the modules directory).
    Load { name: String, file: String },
    /// Compiled into the kernel.
    Builtin(String),
    /// Neither in `modules.dep` nor built in.
    Missing(String),
}

impl Step {
    pub fn name(&self) -> &str {
        match self {
            Step::Load { name, .. } | Step::Builtin(name) | Step::Missing(name) => name,
        }
    }
}

/// The load order for the board's modules: each module after its soft
/// pre-dependencies and its hard dependencies, each module once, the
/// board's own order kept where the dependencies allow it.
pub fn load_order(index: &ModuleIndex, wanted: &[String]) -> Vec<Step> {
    let mut plan = Vec::new();
    let mut seen = HashSet::new();
    for name in wanted {
        visit(index, &module_name(name), wanted, &mut seen, &mut plan, 0);
    }
    plan
}

fn visit(
    index: &ModuleIndex,
    name: &str,
    wanted: &[String],
    seen: &mut HashSet<String>,
    plan: &mut Vec<Step>,
    depth: usize,
) {
    // A cycle in the data (softdeps can make one) must not hang PID 1.
    if depth > 64 || !seen.insert(name.to_string()) {
        return;
    }
    if index.builtin.contains(name) && !index.files.contains_key(name) {
        plan.push(Step::Builtin(name.to_string()));
        return;
    }
    let Some(file) = index.files.get(name) else {
        plan.push(Step::Missing(name.to_string()));
        return;
    };
    for pre in index.soft_pre.get(name).into_iter().flatten() {
        if let Some(m) = index.resolve(pre, wanted) {
            visit(index, &m, wanted, seen, plan, depth + 1);
        }
    }
    // modules.dep lists dependencies so that the last one is loaded first
    // (what modprobe does); each is visited with its own entry as well.
    for dep in index.deps.get(name).into_iter().flatten().rev() {
        visit(index, dep, wanted, seen, plan, depth + 1);
    }
    plan.push(Step::Load {
        name: name.to_string(),
        file: file.clone(),
    });
    for post in index.soft_post.get(name).into_iter().flatten() {
        if let Some(m) = index.resolve(post, wanted) {
            visit(index, &m, wanted, seen, plan, depth + 1);
        }
    }
}

/// The file to hand to `finit_module`: the listed one if it is a plain
/// `.ko`, else an uncompressed `.ko` next to it.
pub fn loadable_file(modules_dir: &Path, file: &str) -> Result<PathBuf, String> {
    let path = modules_dir.join(file);
    if file.ends_with(".ko") {
        return Ok(path);
    }
    let plain = match file.find(".ko") {
        Some(i) => modules_dir.join(&file[..i + 3]),
        None => return Err(format!("{file} is not a kernel module file")),
    };
    if plain.exists() {
        return Ok(plain);
    }
    Err(format!(
        "{file} is compressed and this init cannot decompress it: the image must ship modules uncompressed (xz -d, then depmod)"
    ))
}

/// Module parameters `init` passes: the watchdog timeout goes to the
/// driver at load time (there is no ioctl without `unsafe`, see
/// docs/decisions/0005-watchdog-supervisor.md).
pub fn parameters(name: &str, watchdog_timeout_secs: u32) -> String {
    match name {
        "i6300esb" | "iTCO_wdt" => format!("heartbeat={watchdog_timeout_secs}"),
        "softdog" => format!("soft_margin={watchdog_timeout_secs}"),
        _ => String::new(),
    }
}

/// How loading one module went.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    Loaded,
    AlreadyLoaded,
    Builtin,
    /// `ENODEV`: the module is not for this machine (a CPU-accelerated
    /// variant such as `crct10dif_pclmul` on a CPU without PCLMULQDQ, a
    /// driver for absent hardware); the generic code path serves instead.
    NoDevice,
}

/// Loads one module file with `finit_module(2)`. `EEXIST` (loaded
/// already) is success.
pub fn load_file(path: &Path, params: &str) -> Result<Loaded, String> {
    use nix::kmod::{ModuleInitFlags, finit_module};
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let params = CString::new(params).map_err(|_| "parameters contain a NUL".to_string())?;
    match finit_module(&file, &params, ModuleInitFlags::empty()) {
        Ok(()) => Ok(Loaded::Loaded),
        Err(nix::errno::Errno::EEXIST) => Ok(Loaded::AlreadyLoaded),
        Err(nix::errno::Errno::ENODEV) => Ok(Loaded::NoDevice),
        Err(e) => Err(format!("finit_module {}: {e}", path.display())),
    }
}

/// Loads the whole plan, logging each step; returns how many failed. A
/// module already in `/sys/module` is not loaded again.
pub fn load_all(
    modules_dir: &Path,
    plan: &[Step],
    sys: &Path,
    watchdog_timeout_secs: u32,
    log: &mut dyn FnMut(String),
) -> usize {
    let mut failed = 0;
    for step in plan {
        match step {
            Step::Builtin(name) => log(format!("module {name}: built into the kernel")),
            Step::Missing(name) => {
                failed += 1;
                log(format!(
                    "module {name}: not in modules.dep nor built in (missing from the image?)"
                ));
            }
            Step::Load { name, file } => {
                if sys.join("module").join(name).exists() {
                    continue;
                }
                let params = parameters(name, watchdog_timeout_secs);
                let result = loadable_file(modules_dir, file).and_then(|p| load_file(&p, &params));
                match result {
                    Ok(Loaded::NoDevice) => {
                        log(format!(
                            "module {name}: not for this machine (ENODEV), skipped"
                        ));
                    }
                    Ok(_) if params.is_empty() => log(format!("module {name}: loaded")),
                    Ok(_) => log(format!("module {name}: loaded ({params})")),
                    Err(e) => {
                        failed += 1;
                        log(format!("module {name}: FAILED: {e}"));
                    }
                }
            }
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko
kernel/fs/jbd2/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/lib/crc16.ko:
kernel/crypto/crc32c_generic.ko:
kernel/arch/x86/crypto/crc32c-intel.ko:
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/watchdog/i6300esb.ko.xz:
";
    const SOFTDEP: &str =
        "# Soft dependencies extracted from modules themselves.\nsoftdep ext4 pre: crc32c\n";
    const ALIAS: &str = "alias crypto-crc32c crc32c_intel\nalias crc32c crc32c_intel\nalias crc32c crc32c_generic\n";

    fn index() -> ModuleIndex {
        ModuleIndex::parse(DEP, SOFTDEP, ALIAS, "kernel/drivers/virtio/virtio.ko\n")
    }

    fn names(plan: &[Step]) -> Vec<&str> {
        plan.iter().map(Step::name).collect()
    }

    fn wanted(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_drop_the_suffix_and_dashes() {
        assert_eq!(module_name("kernel/a/crc32c-intel.ko.xz"), "crc32c_intel");
        assert_eq!(module_name("iTCO_wdt"), "iTCO_wdt");
        assert_eq!(module_name("ext4.ko"), "ext4");
    }

    #[test]
    fn ext4_comes_after_its_dependencies_and_the_softdep() {
        let plan = load_order(&index(), &wanted(&["ext4"]));
        assert_eq!(
            names(&plan),
            ["crc32c_intel", "crc16", "mbcache", "jbd2", "ext4"],
            "no preference: the first provider of the alias"
        );
    }

    #[test]
    fn the_boards_choice_of_alias_provider_wins() {
        let plan = load_order(&index(), &wanted(&["ext4", "crc32c_generic"]));
        assert_eq!(
            names(&plan),
            ["crc32c_generic", "crc16", "mbcache", "jbd2", "ext4"]
        );
    }

    #[test]
    fn every_module_once_in_dependency_order() {
        let plan = load_order(
            &index(),
            &wanted(&["virtio_net", "failover", "net_failover", "virtio", "nosuch"]),
        );
        assert_eq!(
            plan,
            [
                Step::Load {
                    name: "failover".into(),
                    file: "kernel/net/core/failover.ko".into()
                },
                Step::Load {
                    name: "net_failover".into(),
                    file: "kernel/drivers/net/net_failover.ko".into()
                },
                Step::Load {
                    name: "virtio_net".into(),
                    file: "kernel/drivers/net/virtio_net.ko".into()
                },
                Step::Builtin("virtio".into()),
                Step::Missing("nosuch".into()),
            ]
        );
    }

    #[test]
    fn a_softdep_cycle_terminates() {
        let idx = ModuleIndex::parse(
            "a.ko:\nb.ko:\n",
            "softdep a pre: b\nsoftdep b pre: a\n",
            "",
            "",
        );
        assert_eq!(names(&load_order(&idx, &wanted(&["a"]))), ["b", "a"]);
    }

    #[test]
    fn compressed_modules_need_an_uncompressed_copy() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("kernel/drivers/watchdog")).unwrap();
        let err = loadable_file(d, "kernel/drivers/watchdog/i6300esb.ko.xz").unwrap_err();
        assert!(err.contains("uncompressed"), "{err}");
        std::fs::write(d.join("kernel/drivers/watchdog/i6300esb.ko"), b"").unwrap();
        assert_eq!(
            loadable_file(d, "kernel/drivers/watchdog/i6300esb.ko.xz").unwrap(),
            d.join("kernel/drivers/watchdog/i6300esb.ko")
        );
    }

    #[test]
    fn the_index_loads_from_a_modules_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("modules.dep"), DEP).unwrap();
        std::fs::write(dir.path().join("modules.softdep"), SOFTDEP).unwrap();
        let idx = ModuleIndex::load(dir.path()).unwrap();
        assert_eq!(idx.soft_pre["ext4"], ["crc32c"]);
        // Without modules.alias the softdep names no module: ext4 still loads.
        assert_eq!(names(&load_order(&idx, &wanted(&["ext4"])))[3], "ext4");
    }

    #[test]
    fn watchdog_drivers_get_the_boards_timeout() {
        assert_eq!(parameters("i6300esb", 60), "heartbeat=60");
        assert_eq!(parameters("iTCO_wdt", 30), "heartbeat=30");
        assert_eq!(parameters("softdog", 60), "soft_margin=60");
        assert_eq!(parameters("ext4", 60), "");
    }

    #[test]
    fn the_built_in_profiles_resolve_against_a_debian_like_index() {
        let vesa = breakwater_board::BoardProfile::builtin("vesa").unwrap();
        let mut dep = String::new();
        for m in &vesa.kernel_modules {
            dep.push_str(&format!("kernel/{m}.ko:\n"));
        }
        dep.push_str("kernel/fs/ext4/ext4.ko: kernel/jbd2.ko kernel/mbcache.ko kernel/crc16.ko\n");
        let idx = ModuleIndex::parse(&dep, SOFTDEP, "alias crc32c crc32c_generic\n", "");
        let plan = load_order(&idx, &vesa.kernel_modules);
        let order = names(&plan);
        let pos = |m: &str| order.iter().position(|x| *x == m).unwrap();
        assert!(pos("crc32c_generic") < pos("ext4"));
        assert!(pos("jbd2") < pos("ext4"));
        assert!(plan.iter().all(|s| matches!(s, Step::Load { .. })));
    }
}
