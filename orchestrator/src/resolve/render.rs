//! The resolved fleet as YAML, for `fleet render`: the same text as serializing the whole
//! [`Fleet`] at once, with the containers rendered in slices on every core.
//!
//! serde-saphyr writes about 60 MB/s, most of it deciding how to quote each key, so a
//! 100,000-container fleet (57 MB of YAML) took a second on one core. A block sequence under a
//! mapping key is written unindented (`containers:\n- spec: ...`), exactly as a sequence at the
//! top of a document, so slices of the list render on their own and join by concatenation; the
//! tests hold the joined text to the whole-fleet serialization byte for byte.

use serde::Serialize;

use crate::model::{Fleet, Host};

/// Containers per slice rendered on its own; below two slices the fleet is rendered whole.
const SLICE: usize = 2_048;

/// The fields before `containers`, in [`Fleet`]'s order.
#[derive(Serialize)]
struct Head<'a> {
    name: &'a str,
    hosts: &'a [Host],
}

/// The fields after `containers`.
#[derive(Serialize)]
struct Tail<'a> {
    warnings: &'a [String],
}

/// `fleet` as YAML: byte for byte `serde_saphyr::to_string(fleet)`.
pub fn yaml(fleet: &Fleet) -> Result<String, serde_saphyr::ser::Error> {
    yaml_in_slices(fleet, SLICE, crate::parallel::cores())
}

fn yaml_in_slices(
    fleet: &Fleet,
    slice: usize,
    threads: usize,
) -> Result<String, serde_saphyr::ser::Error> {
    if threads < 2 || fleet.containers.len() < 2 * slice {
        return serde_saphyr::to_string(fleet);
    }
    let head = serde_saphyr::to_string(&Head {
        name: &fleet.name,
        hosts: &fleet.hosts,
    })?;
    let tail = serde_saphyr::to_string(&Tail {
        warnings: &fleet.warnings,
    })?;
    let parts = crate::parallel::in_slices(&fleet.containers, slice, threads, |slice| {
        serde_saphyr::to_string(&slice)
    })?;
    let body: usize = parts.iter().map(String::len).sum();
    let mut out = String::with_capacity(head.len() + body + tail.len() + 16);
    out.push_str(&head);
    out.push_str("containers:\n");
    for text in parts {
        out.push_str(&text);
    }
    out.push_str(&tail);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Fleet {
        crate::resolve::load_str("demo.yaml", crate::commands::DEMO_SPEC).expect("the demo loads")
    }

    #[test]
    fn slices_join_to_the_whole_fleets_yaml() {
        let base = demo();
        let mut fleet = base.clone();
        // Enough containers for several slices of 3, with a warning to render after them.
        while fleet.containers.len() < 20 {
            for c in &base.containers {
                let mut c = c.clone();
                c.spec.name = format!("{}-{}", c.spec.name, fleet.containers.len());
                fleet.containers.push(c);
            }
        }
        fleet
            .warnings
            .push("spec.yaml:1:1: warning: an example".into());
        let whole = serde_saphyr::to_string(&fleet).unwrap();
        for (slice, threads) in [(3, 2), (4, 3), (7, 2), (1, 4)] {
            assert_eq!(yaml_in_slices(&fleet, slice, threads).unwrap(), whole);
        }
        assert_eq!(yaml(&fleet).unwrap(), whole);
    }

    #[test]
    fn small_and_empty_fleets_render_whole() {
        let mut fleet = demo();
        assert_eq!(
            yaml_in_slices(&fleet, 1, 2).unwrap(),
            serde_saphyr::to_string(&fleet).unwrap()
        );
        fleet.containers.clear();
        fleet.hosts.clear();
        assert_eq!(
            yaml_in_slices(&fleet, 1, 2).unwrap(),
            serde_saphyr::to_string(&fleet).unwrap()
        );
    }
}
