//! DEVNODES (`vzctl set --devnodes fuse:rw`) and DEVICES (`vzctl set --devices c:10:229:rw`):
//! the host devices a container may use, as `security.devices`. Fleet grants by path (the node
//! reads the number on the host), so DEVNODES maps as it is, and a DEVICES entry maps when its
//! number is a well-known device's ([`KNOWN`]); vzctl writes both for a `--devnodes` grant, and
//! the pair becomes one grant. A DEVICES number Fleet cannot name is a located warning and
//! listed as not imported. OpenVZ's `q` (quota access to a block device) has no equivalent.

use fleet_protocol::devices::check_path;

use super::super::yaml::scalar;
use super::{Mapper, shown};

/// Character devices by number that a DEVICES entry may name, with their paths.
const KNOWN: &[(u64, u64, &str)] = &[
    (10, 229, "/dev/fuse"),
    (10, 200, "/dev/net/tun"),
    (10, 232, "/dev/kvm"),
    (10, 237, "/dev/loop-control"),
    (10, 238, "/dev/vhost-net"),
    (108, 0, "/dev/ppp"),
];

/// `security.devices` from DEVNODES, then DEVICES.
pub(super) fn devices(m: &mut Mapper) {
    let mut grants: Vec<(String, String)> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    if let Some(s) = m.take("DEVNODES") {
        for word in s.value.split_whitespace() {
            let (name, perm) = word.split_once(':').unwrap_or((word, "rw"));
            let path = format!("/dev/{}", name.trim_start_matches("/dev/"));
            match access(perm).and_then(|a| check_path(&path).map_or(Ok(a), Err)) {
                Ok(None) => {}
                Ok(Some(access)) => grants.push((path, access)),
                Err(why) => m.invalid(
                    "DEVNODES",
                    s,
                    format!("{word:?}: {why}"),
                    "vzctl's form is NAME:PERM, NAME under /dev and PERM r, w, rw or none \
                     (fuse:rw)"
                        .into(),
                ),
            }
        }
        notes.push(shown("DEVNODES", s));
    }
    if let Some(s) = m.take("DEVICES") {
        for word in s.value.split_whitespace() {
            let parts: Vec<&str> = word.split(':').collect();
            let [kind, major, minor, perm] = parts[..] else {
                m.invalid(
                    "DEVICES",
                    s,
                    format!("{word:?} is not TYPE:MAJOR:MINOR:PERM"),
                    "vzctl's form is c:10:229:rw (c or b, the numbers, r, w, rw or none)".into(),
                );
                continue;
            };
            let known = (kind == "c")
                .then(|| {
                    KNOWN
                        .iter()
                        .find(|(ma, mi, _)| major.parse() == Ok(*ma) && minor.parse() == Ok(*mi))
                })
                .flatten();
            let access = match access(perm) {
                Ok(a) => a,
                Err(why) => {
                    m.invalid(
                        "DEVICES",
                        s,
                        format!("{word:?}: {why}"),
                        "PERM is r, w, rw or none".into(),
                    );
                    continue;
                }
            };
            match (known, access) {
                (_, None) => {}
                (Some((_, _, path)), Some(access)) => {
                    if !grants.iter().any(|(p, _)| p == path) {
                        grants.push(((*path).to_owned(), access));
                    }
                }
                (None, Some(_)) => {
                    m.adjusted(
                        "DEVICES",
                        s,
                        format!(
                            "{word:?} is not imported: Fleet grants a device by its node's path, \
                             and {kind} {major}:{minor} is not one it can name; add it to \
                             security.devices by path"
                        ),
                    );
                    m.skip(
                        "DEVICES",
                        s,
                        format!("{word}: grant it by path in security.devices"),
                    );
                }
            }
        }
        notes.push(shown("DEVICES", s));
    }
    if !grants.is_empty() {
        let items: Vec<String> = grants
            .iter()
            .map(|(path, access)| format!("{{path: {}, access: {access}}}", scalar(path)))
            .collect();
        m.field(
            "security.devices",
            format!("[{}]", items.join(", ")),
            notes.join("; "),
        );
    }
}

/// vzctl's PERM as an access (`None` for `none`), or why it is not one.
fn access(perm: &str) -> Result<Option<String>, String> {
    if perm == "none" {
        return Ok(None);
    }
    if perm.is_empty() || perm.chars().any(|c| !"rwq".contains(c)) {
        return Err(format!("access {perm:?} is not r, w, rw, q or none"));
    }
    let access: String = "rw".chars().filter(|c| perm.contains(*c)).collect();
    if access.is_empty() {
        return Err("q alone (quota access) has no equivalent".into());
    }
    Ok(Some(access))
}
