//! Who the container is and where its files come from: name (NAME, else the CTID), hostname,
//! boot (ONBOOT, DISABLED), template (OSTEMPLATE: there is no OpenVZ template cache here, see
//! [`template`]), the private area (`--private`) and the network (IP_ADDRESS, NETIF's bridge).

use std::net::IpAddr;
use std::path::Path;

use super::super::yaml::scalar;
use super::{Mapper, Taken, Template, shown};
use crate::resolve::valid_name;
use crate::spec::Diagnostic;

/// The container's name: NAME when it is a valid Fleet name not taken yet, else the CTID.
pub(super) fn name(m: &mut Mapper, taken: &mut Taken) -> String {
    let ctid = m.input.ctid.clone();
    let mut name = ctid.clone();
    if let Some(s) = m.take("NAME") {
        if !valid_name(&s.value) {
            m.adjusted(
                "NAME",
                s,
                format!(
                    "{:?} is not a valid Fleet name (1 to 64 letters, digits, '.', '_' or '-'); the container is named {ctid}",
                    s.value
                ),
            );
        } else if taken.names.contains(&s.value) {
            m.adjusted(
                "NAME",
                s,
                format!(
                    "{:?} is the name of an earlier container; this one is named {ctid}",
                    s.value
                ),
            );
        } else {
            name = s.value.clone();
        }
    }
    if taken.names.contains(&name) || !valid_name(&name) {
        let fallback = format!("ct{ctid}");
        let fallback = if valid_name(&fallback) {
            fallback
        } else {
            "ct".to_string()
        };
        let mut n = 2;
        let mut candidate = fallback.clone();
        while taken.names.contains(&candidate) {
            candidate = format!("{fallback}-{n}");
            n += 1;
        }
        m.d.warn(Diagnostic::general(format!(
            "{}: the name {name:?} is taken or invalid; the container is named {candidate}",
            m.input.file
        )));
        name = candidate;
    }
    taken.names.insert(name.clone());
    name
}

/// DESCRIPTION, as a comment above the entry.
pub(super) fn description(m: &mut Mapper) {
    if let Some(s) = m.take("DESCRIPTION") {
        m.notes.push(shown("DESCRIPTION", s));
    }
}

/// The template and command. There is no OpenVZ template cache on Fleet's hosts, so:
/// - with `--private`, the private area is the container's whole tree: `busybox` is only the
///   lower layer under it (every path the private area has hides busybox's), and init is the
///   container's own `/sbin/init`;
/// - with `--template-cache DIR` holding `OSTEMPLATE.tar.gz` (or `.tar`, `.tgz`, `.tar.xz`), a
///   tarball template with its real sha256;
/// - else the `host` template and `sleep infinity`, which validate and run, with a comment
///   saying what to put there (the OS tarball as a template, or `--private`).
pub(super) fn template(m: &mut Mapper) -> (Template, Vec<String>) {
    let os = m
        .take("OSTEMPLATE")
        .map(|s| (s.value.clone(), shown("OSTEMPLATE", s)));
    let init = vec!["/sbin/init".to_string()];
    if m.options.private.is_some() && private_path(m).is_some_and(|p| !is_ploop(m, &p)) {
        if let Some((_, said)) = &os {
            m.notes.push(format!(
                "{said}: the OS comes from the private area (resources.disk.from); busybox is only the layer under it"
            ));
        }
        return (Template::Builtin("busybox"), init);
    }
    if let (Some(cache), Some((os, said))) = (m.options.template_cache.clone(), &os) {
        for ext in ["tar.gz", "tgz", "tar", "tar.xz"] {
            let path = cache.join(format!("{os}.{ext}"));
            if !path.is_file() {
                continue;
            }
            match sha256_file(&path) {
                Ok(sha256) => {
                    m.notes.push(format!(
                        "{said}: from the template cache; copy {} to the same path on the host",
                        path.display()
                    ));
                    return (
                        Template::Tarball {
                            name: template_name(os),
                            path: path.display().to_string(),
                            sha256,
                        },
                        init,
                    );
                }
                Err(e) => m.d.push(Diagnostic::general(format!(
                    "cannot read the template {}: {e}",
                    path.display()
                ))),
            }
        }
        m.d.warn(Diagnostic::general(format!(
            "{}: no {os}.tar.gz, .tgz, .tar or .tar.xz in {}; the container gets the host template",
            m.input.file,
            cache.display()
        )));
    }
    let os = os.map_or_else(|| "OSTEMPLATE is not set".to_string(), |(_, said)| said);
    m.notes.push(format!(
        "{os}: no OpenVZ template cache here, so this placeholder runs the host template. \
         Put the OS tarball (/vz/template/cache/NAME.tar.gz on the old host) on the host, define \
         it under templates: with its sha256 (sha256sum) and name it here, then set command to \
         [\"/sbin/init\"]; or import again with --template-cache DIR, or --private DIR for the data"
    ));
    (
        Template::Builtin("host"),
        vec!["/bin/sleep".to_string(), "infinity".to_string()],
    )
}

/// A valid template name from an OSTEMPLATE (`centos-7-x86_64`).
fn template_name(os: &str) -> String {
    let cleaned: String = os
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect::<String>()
        .replace("..", ".");
    if valid_name(&cleaned) {
        cleaned
    } else {
        "openvz-template".to_string()
    }
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// HOSTNAME, when it is one the node accepts.
pub(super) fn hostname(m: &mut Mapper) {
    if let Some(s) = m.take("HOSTNAME") {
        let h = s.value.trim();
        let ok = !h.is_empty()
            && h.len() <= 64
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'));
        if ok {
            m.field("hostname", scalar(h), shown("HOSTNAME", s));
        } else {
            m.invalid(
                "HOSTNAME",
                s,
                format!("{h:?} is not a hostname Fleet sets"),
                "hostnames are up to 64 letters, digits, '-' and '.'; the container's name is used"
                    .into(),
            );
        }
    }
}

/// ONBOOT and DISABLED.
pub(super) fn boot(m: &mut Mapper) {
    if let Some(s) = m.take("ONBOOT") {
        match s.value.trim() {
            "yes" => m.field("onboot", "true", shown("ONBOOT", s)),
            "no" => m.field("onboot", "false", shown("ONBOOT", s)),
            other => m.invalid(
                "ONBOOT",
                s,
                format!("{other:?} is neither yes nor no"),
                "write ONBOOT=\"yes\" or ONBOOT=\"no\"".into(),
            ),
        }
    }
    if let Some(s) = m.take("DISABLED") {
        match s.value.trim() {
            "yes" => m.field(
                "state",
                "stopped",
                format!("{}: made, not started", shown("DISABLED", s)),
            ),
            "no" => {}
            other => m.invalid(
                "DISABLED",
                s,
                format!("{other:?} is neither yes nor no"),
                "write DISABLED=\"yes\" or DISABLED=\"no\"".into(),
            ),
        }
    }
}

/// The private area of this container under `--private DIR`: `DIR/<last part of VE_PRIVATE>`,
/// which is the CTID in every layout vzctl makes.
fn private_path(m: &Mapper) -> Option<std::path::PathBuf> {
    let dir = m.options.private.as_ref()?;
    let last = m
        .input
        .settings
        .get("VE_PRIVATE")
        .and_then(|s| {
            Path::new(s.value.trim_end_matches('/'))
                .file_name()
                .map(|n| n.to_owned())
        })
        .unwrap_or_else(|| m.input.ctid.clone().into());
    Some(dir.join(last))
}

/// Whether the private area is a ploop image (its `root.hdd`), or VE_LAYOUT says so.
fn is_ploop(m: &Mapper, path: &Path) -> bool {
    path.join("root.hdd").exists()
        || m.input
            .settings
            .get("VE_LAYOUT")
            .is_some_and(|s| s.value.starts_with("ploop"))
}

/// `--private`: the container's simfs private area becomes `resources.disk.from`, which
/// fleet-node copies into the new disk before the first start. A ploop image cannot be read
/// without the ploop tools (not in Debian): an error saying how to turn it into a directory.
pub(super) fn private_area(m: &mut Mapper) {
    m.used.insert("VE_PRIVATE");
    let layout = m.take("VE_LAYOUT").cloned();
    let Some(path) = private_path(m) else {
        if let Some(s) = &layout {
            m.skip(
                "VE_LAYOUT",
                s,
                "the private area's layout: give --private DIR to bring its data",
            );
        }
        return;
    };
    let path = std::path::absolute(&path).unwrap_or(path);
    if is_ploop(m, &path) {
        m.d.push(
            Diagnostic::general(format!(
                "{}: the private area {} is a ploop image (root.hdd), which this import cannot read",
                m.input.file,
                path.display()
            ))
            .hint(
                "on the old host, mount it (ploop mount -m /mnt/ctNNN root.hdd/DiskDescriptor.xml) \
                 or convert it (qemu-img convert -f parallels root.hdd/root.hds -O raw ct.img, then \
                 mount -o loop,ro ct.img /mnt/ctNNN), copy the mounted tree to DIR/CTID (rsync -aHAX \
                 --numeric-ids) and import again",
            ),
        );
        m.notes.push(
            "the private area is a ploop image: not imported (see the error on stderr)".into(),
        );
        return;
    }
    if !path.is_dir() {
        m.d.warn(Diagnostic::general(format!(
            "{}: the private area {} is not on this machine; fleet-node looks for it on the host when it creates the container",
            m.input.file,
            path.display()
        )));
    }
    let note = match &layout {
        Some(s) => format!(
            "the simfs private area ({}), copied in before the first start",
            shown("VE_LAYOUT", s)
        ),
        None => "the simfs private area, copied in before the first start".to_string(),
    };
    m.field(
        "resources.disk.from",
        scalar(&path.display().to_string()),
        note,
    );
}

/// IP_ADDRESS (several, with or without a prefix) and NETIF's bridge.
pub(super) fn network(m: &mut Mapper, name: &str, taken: &mut Taken) {
    let mut addresses = Vec::new();
    if let Some(s) = m.take("IP_ADDRESS") {
        for word in s.value.split_whitespace() {
            match address(word) {
                Ok((ip, text)) => match taken.addresses.get(&ip) {
                    Some(owner) => m.adjusted(
                        "IP_ADDRESS",
                        s,
                        format!("{ip} is already the address of {owner}; left out here"),
                    ),
                    None => {
                        taken.addresses.insert(ip, name.to_owned());
                        addresses.push(text);
                    }
                },
                Err(e) => m.invalid(
                    "IP_ADDRESS",
                    s,
                    e,
                    "write addresses separated by spaces, each IPv4 or IPv6 with an optional /prefix".into(),
                ),
            }
        }
    }
    let mut bridge = None;
    if let Some(s) = m.take("NETIF") {
        let bridges: Vec<&str> = s
            .value
            .split(';')
            .flat_map(|iface| iface.split(','))
            .filter_map(|kv| kv.strip_prefix("bridge="))
            .collect();
        match bridges.first() {
            Some(b) if valid_name(b) && b.len() <= 15 => {
                bridge = Some((b.to_string(), shown("NETIF", s)))
            }
            Some(b) => m.adjusted(
                "NETIF",
                s,
                format!("bridge {b:?} is not a bridge name Fleet uses; fleet0 is used"),
            ),
            None => {}
        }
        m.skip(
            "NETIF",
            s,
            "veth interfaces: eth0 on a bridge (network.bridge); their MAC addresses and names are not kept",
        );
    }
    if addresses.is_empty() && bridge.is_none() {
        return;
    }
    match bridge {
        Some((b, note)) => m.field("network.bridge", scalar(&b), note),
        None => m.field(
            "network.bridge",
            "fleet0",
            "venet has no bridge: Fleet's default",
        ),
    }
    if !addresses.is_empty() {
        let list: Vec<String> = addresses.iter().map(|a| scalar(a)).collect();
        let s = m
            .input
            .settings
            .get("IP_ADDRESS")
            .expect("addresses came from it");
        m.field(
            "network.addresses",
            format!("[{}]", list.join(", ")),
            format!(
                "{} (venet host routes; on a bridge give the subnet's prefix and a gateway)",
                shown("IP_ADDRESS", s)
            ),
        );
    }
}

/// One IP_ADDRESS word as CIDR: `/32` or `/128` when it has no prefix (venet's host routes), a
/// dotted netmask turned into a prefix.
fn address(word: &str) -> Result<(IpAddr, String), String> {
    let (addr, prefix) = match word.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (word, None),
    };
    let ip: IpAddr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 or IPv6 address"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        None => max,
        Some(p) => match (p.parse::<u32>(), p.parse::<std::net::Ipv4Addr>()) {
            (Ok(n), _) if n <= max => n,
            (_, Ok(mask))
                if ip.is_ipv4()
                    && (u32::from(mask).leading_ones() == u32::from(mask).count_ones()) =>
            {
                u32::from(mask).count_ones()
            }
            _ => return Err(format!("{word:?} has a bad prefix: use /0 to /{max}")),
        },
    };
    Ok((ip, format!("{ip}/{prefix}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_host_prefixes_or_keep_theirs() {
        assert_eq!(address("10.0.0.5").unwrap().1, "10.0.0.5/32");
        assert_eq!(address("10.0.0.5/24").unwrap().1, "10.0.0.5/24");
        assert_eq!(address("10.0.0.5/255.255.255.0").unwrap().1, "10.0.0.5/24");
        assert_eq!(address("2001:db8::5").unwrap().1, "2001:db8::5/128");
        assert!(address("10.0.0.5/33").is_err());
        assert!(address("10.0.0.5/255.0.255.0").is_err());
        assert!(address("web").is_err());
    }

    #[test]
    fn template_names_are_made_valid() {
        assert_eq!(template_name("centos-7-x86_64"), "centos-7-x86_64");
        assert_eq!(template_name("debian 8/minimal"), "debian-8-minimal");
    }
}
