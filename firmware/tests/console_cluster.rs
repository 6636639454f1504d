//! The console's cluster commands on a standalone appliance (issue 20),
//! against a real control server without the cluster agent: the prompt
//! stays the host name's, `clustermode` says the box is not clustered,
//! and the `clusterconfig` menu offers CREATE and JOIN, explains a
//! refusal and asks again. The clustered console (the mode prompt, the
//! level question) runs against a real etcd in tests/tests/cluster_ui.rs.

// Test code: helpers outside #[test] functions may unwrap and panic too.
#![allow(clippy::unwrap_used, clippy::panic)]

mod console_support;

use console_support::{PROMPT, rig};

#[test]
fn standalone_keeps_the_host_name_prompt_and_offers_create_and_join() {
    let rig = rig();
    let mut t = rig.admin();
    let shown = t.command("clustermode");
    assert!(
        shown.contains("This appliance is not part of a cluster."),
        "{shown}"
    );
    t.send("clusterconfig\r");
    t.expect("This appliance is not part of a cluster.");
    t.expect("- CREATE - Create a cluster with this machine as its first member.");
    t.expect("- JOIN - ");
    t.line_after("[]> ", "create");
    t.line_after("[]> ", "Hosted_Cluster");
    t.line_after("[]> ", "https://127.9.0.1:2379");
    t.line_after("[]> ", "etcd_ca");
    t.line_after("[]> ", "Demo");
    t.line_after("[Main_Group]> ", "");
    // This rig has no cluster agent: the daemon refuses, the menu says
    // why and asks again; an empty name gives up.
    t.expect("This appliance is not part of a cluster.");
    t.line_after("Enter the name of the new cluster.\r\n[]> ", "");
    t.expect(PROMPT);
    assert!(rig.store.staged().unwrap().is_none());
    t.quit();
}
