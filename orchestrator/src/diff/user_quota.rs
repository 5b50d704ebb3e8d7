//! Refuses, at plan time, a container with `disk.user_quota` on a host whose node says its
//! kernel cannot keep quotas on a container's disk (`Features::user_quota`, false on this
//! machine's kernel and on an older node): the node would refuse it too, after the plan had
//! promised it. The refused changes leave the plan, so nothing is done for them.

use fleet_protocol::disk::USER_QUOTA_KERNEL;

use super::{Change, Diff, Observed, Refusal};

/// Moves every change that would make, start or change a container with `disk.user_quota` on
/// a host that reported no support into `out.refused`, naming the host, its kernel and what
/// is missing. A host with no hello (not observed) is decided elsewhere.
pub fn check(out: &mut Diff, observed: &Observed) {
    let mut refused = Vec::new();
    for bucket in [
        &mut out.create,
        &mut out.start,
        &mut out.update_live,
        &mut out.update_restart,
        &mut out.recreate,
        &mut out.moves,
    ] {
        bucket.retain(|c: &Change| {
            let wants = c.spec.as_ref().is_some_and(|s| s.disk.user_quota);
            let Some(node) = observed
                .node(&c.host)
                .filter(|n| wants && !n.features.user_quota)
            else {
                return true;
            };
            refused.push(Refusal {
                name: c.name.clone(),
                host: c.host.clone(),
                reason: format!(
                    "disk.user_quota needs {USER_QUOTA_KERNEL}; {} (kernel {}) has none: \
                     place it on a host that has it, or drop user_quota",
                    c.host, node.kernel
                ),
            });
            false
        });
    }
    out.refused.extend(refused);
}

#[cfg(test)]
mod tests {
    use crate::plan::fixture::{
        diff_pinned, empty_observation, hello_mut, spec, special_on_a_and_its_copy_on_b,
    };

    #[test]
    fn a_quota_container_is_refused_on_a_kernel_without_the_quota_format_only() {
        let mut quota = spec("f", "db");
        quota.resources.disk_space = Some(1 << 30);
        quota.disk.user_quota = true;
        let f = special_on_a_and_its_copy_on_b(quota);
        let mut obs = empty_observation(&f);
        let n = hello_mut(&mut obs, "a");
        n.features.user_quota = false;
        n.kernel = "6.18.44".into();
        let d = diff_pinned(&f, &obs);
        let created: Vec<_> = d.create.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(created, ["web", "db2"]);
        assert_eq!(d.refused.len(), 1, "{:?}", d.refused);
        assert_eq!(
            (d.refused[0].name.as_str(), d.refused[0].host.as_str()),
            ("db", "a")
        );
        let reason = &d.refused[0].reason;
        assert!(
            reason.contains("QFMT_V2") && reason.contains("a (kernel 6.18.44)"),
            "{reason}"
        );
    }
}
