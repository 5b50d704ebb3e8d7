//! The table's own checks: names and keys unique, and each kind of change given the effect the
//! node carries out.

use super::*;
use crate::container::TemplateRef;

fn spec() -> ContainerSpec {
    ContainerSpec::new(
        "f",
        "c",
        TemplateRef::Busybox,
        vec!["/bin/sleep".into(), "1".into()],
    )
}

fn verdicts(
    old: &ContainerSpec,
    new: &ContainerSpec,
    host: &Features,
) -> Vec<(&'static str, Effect)> {
    changes(&View::of(old), &View::of(new), host)
        .map(|(rule, v)| (rule.name, v.effect))
        .collect()
}

/// The verdicts on [`spec`] changed by `edit`, on a node with `host`'s features.
fn verdicts_after(
    edit: impl FnOnce(&mut ContainerSpec),
    host: &Features,
) -> Vec<(&'static str, Effect)> {
    let mut new = spec();
    edit(&mut new);
    verdicts(&spec(), &new, host)
}

#[test]
fn every_field_name_and_key_is_unique() {
    let mut names: Vec<_> = FIELDS.iter().map(|f| f.name).collect();
    let mut keys: Vec<_> = FIELDS.iter().map(|f| f.key).collect();
    names.sort_unstable();
    keys.sort_unstable();
    names.dedup();
    keys.dedup();
    assert_eq!(names.len(), FIELDS.len());
    assert_eq!(keys.len(), FIELDS.len());
}

#[test]
fn a_template_change_is_a_recreate() {
    let edit = |new: &mut ContainerSpec| {
        new.template = TemplateRef::Host;
        new.command = vec!["/bin/true".into()];
    };
    assert_eq!(
        verdicts_after(edit, &Features::default()),
        [("template", Effect::Recreate), ("command", Effect::Restart)]
    );
}

#[test]
fn a_security_change_needs_a_restart() {
    let edit = |new: &mut ContainerSpec| new.security.nesting = true;
    assert_eq!(
        verdicts_after(edit, &Features::default()),
        [("security", Effect::Restart)]
    );
}

#[test]
fn granted_devices_change_live_only_where_the_node_has_a_live_guard() {
    let old = spec();
    let mut new = spec();
    new.security.devices = vec![crate::devices::DeviceGrant {
        path: "/dev/fuse".into(),
        access: "rw".into(),
    }];
    let able = Features {
        devices_live: true,
        ..Features::default()
    };
    // Only the devices row: the `security` row (filter, nesting) does not see them.
    assert_eq!(
        verdicts(&old, &new, &able),
        [("security.devices", Effect::Live)]
    );
    assert_eq!(
        verdicts(&new, &old, &Features::default()),
        [("security.devices", Effect::Restart)]
    );
}

#[test]
fn a_restart_policy_changes_live() {
    let edit = |new: &mut ContainerSpec| {
        new.restart.policy = crate::restart::RestartPolicy::OnFailure;
        new.restart.max_retries = Some(3);
    };
    assert_eq!(
        verdicts_after(edit, &Features::default()),
        [("restart", Effect::Live)]
    );
}

#[test]
fn a_disk_grows_live_only_where_the_node_can_resize_online() {
    let mut old = spec();
    old.resources.disk_space = Some(1 << 30);
    let mut new = old.clone();
    new.resources.disk_space = Some(2 << 30);
    let able = Features {
        online_disk_grow: true,
        ..Features::default()
    };
    assert_eq!(verdicts(&old, &new, &able), [("disk.space", Effect::Live)]);
    let unable = Features::default();
    let v = changes(&View::of(&old), &View::of(&new), &unable)
        .next()
        .unwrap()
        .1;
    assert_eq!(v.effect, Effect::Restart);
    assert!(v.why.unwrap().contains("CAP_SYS_RESOURCE"));
    // Shrinking needs a restart everywhere.
    assert_eq!(
        verdicts(&new, &old, &able),
        [("disk.space", Effect::Restart)]
    );
}

#[test]
fn the_default_bridge_named_or_not_is_the_same_attachment() {
    let mut old = spec();
    old.network.mode = NetworkMode::Bridged;
    let mut new = old.clone();
    new.network.bridge = Some(DEFAULT_BRIDGE.into());
    new.network.addresses = vec!["10.0.0.2/24".into()];
    assert_eq!(
        verdicts(&old, &new, &Features::default()),
        [("network.addresses", Effect::Live)]
    );
    new.network.bridge = Some("other".into());
    assert_eq!(
        verdicts(&old, &new, &Features::default()),
        [("network", Effect::Restart)]
    );
}

#[test]
fn an_unreadable_limit_falls_back_to_the_stored_one() {
    let stored = Resources {
        memory: Some(1 << 20),
        pids: Some(10),
        ..Resources::default()
    };
    let live = Resources {
        pids: Some(20),
        ..Resources::default()
    };
    let seen = observed_resources(&live, &stored);
    assert_eq!(seen.memory, Some(1 << 20));
    assert_eq!(seen.pids, Some(20));
}

#[test]
fn quotas_on_are_a_recreate_and_off_a_restart() {
    let off = spec();
    let mut on = spec();
    on.disk.user_quota = true;
    let host = Features::default();
    assert_eq!(
        verdicts(&off, &on, &host),
        [("disk.user_quota", Effect::Recreate)]
    );
    assert_eq!(
        verdicts(&on, &off, &host),
        [("disk.user_quota", Effect::Restart)]
    );
}
