//! Feeds arbitrary bytes as a level document read from etcd (the cluster's
//! or a group's sections, JSON) and lays it over the factory configuration
//! as a member's agent does (`config::cluster::effective`). Properties
//! checked: no panic; a configuration it accepts passes `validate`, keeps
//! the machine's own sections (host name, interfaces), and laying the same
//! sections over it again changes nothing.
#![no_main]

use breakwater::config::cluster::{LevelSettings, MACHINE_ONLY, effective, extract};
use breakwater::config::factory::dev_factory_for_tests;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut level) = serde_json::from_slice::<LevelSettings>(data) else {
        return;
    };
    // The agent never takes machine sections from a level (the commands
    // refuse to write them there); the model's overlay is checked on the
    // shared ones.
    level.sections.retain(|name, _| !MACHINE_ONLY.contains(&name.as_str()));
    let local = dev_factory_for_tests();
    let Ok(merged) = effective(&local, &[&level]) else {
        return;
    };
    merged.validate().expect("an accepted configuration validates");
    assert_eq!(merged.hostname, local.hostname);
    assert_eq!(merged.interfaces, local.interfaces);
    let names: Vec<&str> = level
        .sections
        .keys()
        .map(String::as_str)
        .filter(|n| merged_has(&merged, n))
        .collect();
    let same = extract(&merged, names.iter().copied()).expect("known sections");
    assert_eq!(effective(&merged, &[&same]).expect("idempotent"), merged);
});

/// Whether `name` is a section of this version (unknown ones are ignored).
fn merged_has(config: &breakwater::config::Config, name: &str) -> bool {
    breakwater::config::cluster::sections(config)
        .iter()
        .any(|s| s == name)
}
