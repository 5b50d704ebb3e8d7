//! The container's `restart` field: a policy word (`restart: on-failure`) or a mapping with a
//! retry ceiling (`restart: {policy: on-failure, max_retries: 5}`). The words are the protocol's
//! ([`RestartPolicy::CHOICES`]), so both sides accept the same ones.

use fleet_protocol::{RestartPolicy, RestartSpec};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::fields::{self, Fields};
use super::node::{Node, Value};

/// The largest `max_retries` accepted (beyond it, leave it out: never give up).
const MAX_RETRIES: i128 = 1_000_000;

/// Decodes `restart:`; problems are recorded and the default (`no`) kept.
pub fn restart(node: &Node, d: &mut Diagnostics) -> RestartSpec {
    if let Value::Map(_) = node.value {
        let Some(f) = Fields::open(node, "restart", &["policy", "max_retries"], d) else {
            return RestartSpec::default();
        };
        let Some(policy) = f.get("policy").and_then(|n| policy(n, "restart.policy", d)) else {
            if f.get("policy").is_none() {
                d.push(
                    Diagnostic::at(node.pos, "\"restart\" needs a \"policy\"")
                        .hint(format!("one of {}", RestartPolicy::CHOICES.join(", "))),
                );
            }
            return RestartSpec::default();
        };
        let max_retries = f
            .get("max_retries")
            .and_then(|n| fields::uint::<u32>(n, "restart.max_retries", 0, MAX_RETRIES, d))
            .map(|n| n.value);
        if max_retries.is_some() && policy == RestartPolicy::No {
            d.push(
                Diagnostic::at(
                    node.pos,
                    "\"max_retries\" has no meaning with policy \"no\"",
                )
                .hint("use policy: on-failure or always, or leave max_retries out"),
            );
        }
        return RestartSpec {
            policy,
            max_retries,
        };
    }
    RestartSpec {
        policy: policy(node, "restart", d).unwrap_or_default(),
        max_retries: None,
    }
}

fn policy(node: &Node, field: &str, d: &mut Diagnostics) -> Option<RestartPolicy> {
    if let Value::Bool(false) = node.value {
        d.push(
            Diagnostic::at(
                node.pos,
                format!("\"{field}\" must be a policy word, found false"),
            )
            .hint("write \"no\" (in quotes or not) for no restarts"),
        );
        return None;
    }
    fields::choice(node, field, RestartPolicy::CHOICES, d).and_then(RestartPolicy::parse)
}
