//! Whether a container can move live (CRIU checkpoint on the source, restore on the target) or
//! only cold, and why: the one rule the orchestrator's plan (`(move h1 -> h2, cold: WHY)`) and
//! the node's checkpoint both apply.

use crate::container::{ContainerSpec, NetworkMode};
use crate::message::NodeInfo;

/// Why `spec` cannot be checkpointed on a node at all (`None`: it can, given a working criu).
pub fn why_not_checkpointable(spec: &ContainerSpec) -> Option<String> {
    if spec.network.mode == NetworkMode::Host {
        return Some(
            "it shares the host's network namespace (network: host): CRIU would dump and lock \
             the host's own sockets"
                .to_owned(),
        );
    }
    spec.disk.user_quota.then(|| {
        "its quota calls go to a seccomp listener held by the host's quota broker \
         (disk.user_quota), which CRIU cannot dump"
            .to_owned()
    })
}

/// How a node's hello note on CRIU without memory dirty tracking ends (`criu: WHY; ` before).
pub const NO_PRE_DUMPS: &str = "live moves from here make one final dump, no pre-dumps";

/// Why a live move from `source` cannot pre-dump the container's memory while it runs (its
/// criu cannot track dirty pages); `None` when it can.
pub fn why_no_pre_dumps(source: &NodeInfo) -> Option<String> {
    if source.features.criu_mem_dirty_track {
        return None;
    }
    let why = source.features.notes.iter().find_map(|n| {
        n.strip_prefix("criu: ")?
            .strip_suffix(NO_PRE_DUMPS)?
            .strip_suffix("; ")
    });
    Some(
        why.unwrap_or("its criu does not say that it tracks dirty memory (an older fleet-node?)")
            .to_owned(),
    )
}

/// Why a move of `spec` from `source` to `target` cannot be live; `None` when it can.
pub fn why_not_live(spec: &ContainerSpec, source: &NodeInfo, target: &NodeInfo) -> Option<String> {
    if let Some(why) = why_not_checkpointable(spec) {
        return Some(why);
    }
    for (side, node) in [("source", source), ("target", target)] {
        if !node.features.criu {
            // The side, not the node's hostname: the plan's line names both hosts as the
            // fleet knows them (`move h1 -> h2`), which a machine's hostname need not be.
            return Some(format!(
                "CRIU is missing or fails `criu check` on the {side}"
            ));
        }
    }
    if let (Some(from), Some(to)) = (&source.features.criu_version, &target.features.criu_version)
        && version_key(to) < version_key(from)
    {
        return Some(format!(
            "the target's CRIU {to} is older than the source's {from}, which wrote the images"
        ));
    }
    if source.node_version != target.node_version {
        return Some(format!(
            "fleet-node versions differ ({} on the source, {} on the target): the restored tree \
             maps the builtin init it was dumped with",
            source.node_version, target.node_version
        ));
    }
    why_range_taken(spec, source, target)
}

/// Why the target cannot give the restored tree the uid range it holds on the source (the tree
/// keeps its user namespace); `None` when it can, or when either node does not say.
fn why_range_taken(spec: &ContainerSpec, source: &NodeInfo, target: &NodeInfo) -> Option<String> {
    if spec.privileged {
        return None;
    }
    let (Some(from), Some(to)) = (&source.capacity.uid_ranges, &target.capacity.uid_ranges) else {
        return None;
    };
    let base = *from.held.get(&spec.name)?;
    let why = to.why_not_free(&spec.name, base)?;
    Some(format!(
        "uid range {base} {why}, and a restored tree keeps the user namespace it was dumped with"
    ))
}

/// `4.2` -> `[4, 2]`, for comparing CRIU versions; anything not a number counts as 0.
fn version_key(version: &str) -> Vec<u64> {
    version
        .split(['.', '-'])
        .map(|part| part.parse().unwrap_or(0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Features;
    use crate::uid_ranges::UidRanges;

    fn node(host: &str, criu: Option<&str>, version: &str) -> NodeInfo {
        NodeInfo {
            protocol_version: crate::PROTOCOL_VERSION,
            node_version: version.into(),
            hostname: host.into(),
            kernel: String::new(),
            cgroup_version: 2,
            features: Features {
                criu: criu.is_some(),
                criu_version: criu.map(str::to_owned),
                ..Features::default()
            },
            capacity: Default::default(),
            interrupted_batch: None,
            supervisor: None,
        }
    }

    fn spec(mode: NetworkMode) -> ContainerSpec {
        ContainerSpec {
            network: crate::container::NetworkSpec {
                mode,
                ..Default::default()
            },
            ..ContainerSpec::new(
                "f",
                "web",
                crate::container::TemplateRef::Busybox,
                vec!["/bin/sleep".into(), "1".into()],
            )
        }
    }

    #[test]
    fn a_move_is_live_only_when_both_sides_can_and_say_why_not() {
        let web = spec(NetworkMode::Bridged);
        let good = node("h1", Some("4.2"), "0.1.0");
        assert_eq!(
            why_not_live(&web, &good, &node("h2", Some("4.2"), "0.1.0")),
            None
        );
        assert_eq!(
            why_not_live(&web, &good, &node("h2", Some("4.3"), "0.1.0")),
            None
        );
        let why = why_not_live(&web, &good, &node("h2", None, "0.1.0")).unwrap();
        assert!(why.ends_with("on the target"), "{why}");
        let why = why_not_live(&web, &node("h1", None, "0.1.0"), &good).unwrap();
        assert!(why.ends_with("on the source"), "{why}");
        let why = why_not_live(&web, &good, &node("h2", Some("3.17.1"), "0.1.0")).unwrap();
        assert!(why.contains("older"), "{why}");
        let why = why_not_live(&web, &good, &node("h2", Some("4.2"), "0.2.0")).unwrap();
        assert!(why.contains("versions differ"), "{why}");
        let why = why_not_live(&spec(NetworkMode::Host), &good, &good).unwrap();
        assert!(why.contains("network: host"), "{why}");
        let mut quota = spec(NetworkMode::Bridged);
        quota.disk.user_quota = true;
        let why = why_not_live(&quota, &good, &good).unwrap();
        assert!(why.contains("disk.user_quota"), "{why}");
    }

    #[test]
    fn a_move_is_cold_when_the_target_cannot_give_the_tree_its_range() {
        let web = spec(NetworkMode::Bridged);
        let ranges = |held: &[(&str, u32)]| UidRanges {
            pool_start: 100_000,
            pool_end: 1 << 31,
            reserved: Vec::new(),
            held: held.iter().map(|&(n, b)| (n.to_owned(), b)).collect(),
        };
        let with = |host: &str, r: Option<UidRanges>| {
            let mut n = node(host, Some("4.2"), "0.1.0");
            n.capacity.uid_ranges = r;
            n
        };
        let base = 100_000 + 17 * 65536;
        let source = with("h1", Some(ranges(&[("web", base)])));
        let busy = with("h2", Some(ranges(&[("web-3", base)])));
        let why = why_not_live(&web, &source, &busy).unwrap();
        assert_eq!(
            why,
            format!(
                "uid range {base} is held on the target by web-3, and a restored tree keeps the \
                 user namespace it was dumped with"
            )
        );
        let elsewhere = with("h2", Some(ranges(&[("web-3", base + 65536)])));
        assert_eq!(why_not_live(&web, &source, &elsewhere), None);
        // A node that does not say, on either side: live, as before (the commit may refuse).
        assert_eq!(why_not_live(&web, &source, &with("h2", None)), None);
        assert_eq!(why_not_live(&web, &with("h1", None), &busy), None);
        let mut privileged = web.clone();
        privileged.privileged = true;
        assert_eq!(why_not_live(&privileged, &source, &busy), None, "no userns");
    }
}
