//! Positioned YAML trees to raw spec documents: every field's shape, units and ranges checked,
//! every problem recorded. References between entries are checked later by `resolve`.

use fleet_protocol::{DesiredState, InitMode, NetworkMode};

use super::diagnostic::{Diagnostic, Diagnostics};
use super::fields::{self, Fields};
use super::node::{Node, Value};
use super::raw::{
    At, Document, RawContainer, RawHost, RawNetwork, RawProfile, RawTemplate, TransportKind,
};
use super::resources;

/// The only `apiVersion` this build understands.
pub const API_VERSION: &str = "fleet/v1";

const DOCUMENT_FIELDS: &[&str] = &[
    "apiVersion",
    "fleet",
    "hosts",
    "templates",
    "profiles",
    "containers",
];
const HOST_FIELDS: &[&str] = &[
    "name",
    "transport",
    "address",
    "port",
    "user",
    "identity_file",
    "host_key",
    "known_hosts",
    "labels",
    "capacity",
    "overcommit",
    "node",
];
const TEMPLATE_FIELDS: &[&str] = &["name", "tarball", "sha256"];
const PROFILE_FIELDS: &[&str] = &[
    "name",
    "extends",
    "description",
    "cpu",
    "memory",
    "memory_high",
    "swap",
    "pids",
    "disk",
    "io",
];
const CONTAINER_FIELDS: &[&str] = &[
    "name",
    "count",
    "template",
    "profile",
    "resources",
    "command",
    "env",
    "hostname",
    "host",
    "placement",
    "depends_on",
    "onboot",
    "state",
    "labels",
    "network",
    "privileged",
    "user_namespace",
    "security",
    "init",
    "restart",
];

/// The entries of a document's top-level lists decoded while it was parsed (see
/// [`super::build::Items`]), to be joined to the rest of the document by [`document_with`].
#[derive(Debug, Default)]
pub struct Entries {
    /// Host entries.
    pub hosts: Vec<RawHost>,
    /// Tarball template entries.
    pub templates: Vec<RawTemplate>,
    /// Profile entries.
    pub profiles: Vec<RawProfile>,
    /// Container entries.
    pub containers: Vec<RawContainer>,
}

impl Entries {
    /// Decodes `node`, an item of the top-level list `list`, into these entries. Returns false
    /// when `list` is no list of entries (an unknown key, reported with the document).
    pub fn add(&mut self, list: &str, node: &Node, d: &mut Diagnostics) -> bool {
        match list {
            "hosts" => self.hosts.extend(host(node, d)),
            "templates" => self.templates.extend(template(node, d)),
            "profiles" => self.profiles.extend(profile(node, d)),
            "containers" => self.containers.extend(container(node, d)),
            _ => return false,
        }
        true
    }
}

/// Decodes one YAML document; `None` for an empty document.
pub fn document(node: &Node, d: &mut Diagnostics) -> Option<Document> {
    document_with(node, Entries::default(), d)
}

/// Decodes one YAML document whose list items in `entries` were decoded already (the tree holds
/// the rest); `None` for an empty document.
pub fn document_with(node: &Node, entries: Entries, d: &mut Diagnostics) -> Option<Document> {
    if node.value == Value::Null {
        return None;
    }
    let f = Fields::open(node, "a fleet document", DOCUMENT_FIELDS, d)?;
    match f.get("apiVersion") {
        None => d.push(
            Diagnostic::at(node.pos, "missing \"apiVersion\"").hint(format!(
                "start each document with `apiVersion: {API_VERSION}`"
            )),
        ),
        Some(v) => {
            if let Some(v) = fields::text(v, "apiVersion", d)
                && v.value != API_VERSION
            {
                d.push(
                    Diagnostic::at(v.pos, format!("unsupported apiVersion \"{}\"", v.value)).hint(
                        format!("this version of fleet reads `apiVersion: {API_VERSION}`"),
                    ),
                );
            }
        }
    }
    let mut doc = Document {
        pos: node.pos,
        fleet: f.name("fleet", d),
        hosts: entries.hosts,
        templates: entries.templates,
        profiles: entries.profiles,
        containers: entries.containers,
    };
    let mut rest = Entries::default();
    for key in ["hosts", "templates", "profiles", "containers"] {
        if let Some(n) = f.get(key) {
            for item in fields::list(n, key, d) {
                rest.add(key, item, d);
            }
        }
    }
    doc.hosts.append(&mut rest.hosts);
    doc.templates.append(&mut rest.templates);
    doc.profiles.append(&mut rest.profiles);
    doc.containers.append(&mut rest.containers);
    Some(doc)
}

fn host(node: &Node, d: &mut Diagnostics) -> Option<RawHost> {
    let f = Fields::open(node, "a host", HOST_FIELDS, d)?;
    let mut h = RawHost {
        pos: node.pos,
        name: required(&f, node, "name", "a host", d),
        address: f.name("address", d),
        port: f.uint::<u16>("port", 1, 65535, d).map(|p| p.value),
        user: text_of(&f, "user", d),
        identity_file: text_of(&f, "identity_file", d),
        host_key: f.name("host_key", d),
        known_hosts: text_of(&f, "known_hosts", d),
        labels: f.string_map("labels", d),
        ..RawHost::default()
    };
    if let Some(t) = f.get("transport") {
        h.transport = match fields::choice(t, "transport", &["ssh", "local"], d) {
            Some("local") => TransportKind::Local,
            _ => TransportKind::Ssh,
        };
    }
    if let Some(c) = f.nested("capacity", &["cpus", "memory", "disk"], d) {
        h.cpus = c.uint::<u32>("cpus", 1, 65536, d);
        h.memory = c.size("memory", 1 << 20, d);
        h.disk = c.size("disk", 1 << 20, d);
    }
    if let Some(o) = f.nested("overcommit", &["cpu", "memory"], d) {
        h.overcommit_cpu = o.ratio("cpu", 1.0, 100.0, d);
        h.overcommit_memory = o.ratio("memory", 1.0, 100.0, d);
    }
    if let Some(n) = f.nested("node", &["path", "root", "cgroup_parent"], d) {
        h.node_path = text_of(&n, "path", d);
        h.node_root = text_of(&n, "root", d);
        h.node_cgroup_parent = text_of(&n, "cgroup_parent", d);
    }
    Some(h)
}

fn template(node: &Node, d: &mut Diagnostics) -> Option<RawTemplate> {
    let f = Fields::open(node, "a template", TEMPLATE_FIELDS, d)?;
    Some(RawTemplate {
        pos: node.pos,
        name: required(&f, node, "name", "a template", d),
        tarball: required(&f, node, "tarball", "a template", d),
        sha256: required(&f, node, "sha256", "a template", d),
    })
}

fn profile(node: &Node, d: &mut Diagnostics) -> Option<RawProfile> {
    let f = Fields::open(node, "a profile", PROFILE_FIELDS, d)?;
    if let Some(desc) = f.get("description") {
        fields::text(desc, "description", d);
    }
    let resources = resources::resources_from(&f, d);
    if let Some(from) = &resources.disk_from {
        d.push(
            Diagnostic::at(
                from.pos,
                "disk.from belongs to one container, not to a profile",
            )
            .hint("move it to the container's own resources.disk"),
        );
    }
    Some(RawProfile {
        pos: node.pos,
        name: required(&f, node, "name", "a profile", d),
        extends: f.name("extends", d),
        resources,
    })
}

fn container(node: &Node, d: &mut Diagnostics) -> Option<RawContainer> {
    let f = Fields::open(node, "a container", CONTAINER_FIELDS, d)?;
    let mut c = RawContainer {
        pos: node.pos,
        name: required(&f, node, "name", "a container", d),
        count: f.uint::<u32>("count", 1, 100_000, d),
        template: f.name("template", d),
        profile: f.name("profile", d),
        resources: f
            .get("resources")
            .map(|n| resources::resources(n, d))
            .unwrap_or_default(),
        env: f.string_map("env", d),
        hostname: f.name("hostname", d),
        host: f.name("host", d),
        depends_on: f.strings("depends_on", d),
        onboot: f.boolean("onboot", d).unwrap_or(false),
        privileged: privileged(&f, d),
        labels: f.string_map("labels", d),
        ..RawContainer::default()
    };
    if let Some(cmd) = f.get("command") {
        c.command = command(cmd, d);
    }
    if let Some(n) = f.get("init")
        && let Some(word) = fields::choice(n, "init", InitMode::CHOICES, d)
    {
        c.init = InitMode::parse(word).expect("one of the choices");
    }
    if let Some(n) = f.get("restart") {
        c.restart = super::restart::restart(n, d);
    }
    if let Some(s) = f.get("state") {
        c.state = match fields::choice(s, "state", &["running", "stopped"], d) {
            Some("stopped") => DesiredState::Stopped,
            _ => DesiredState::Running,
        };
    }
    if let Some(p) = f.nested("placement", &["selector", "spread", "group"], d) {
        c.selector = p.string_map("selector", d);
        c.spread = p.name("spread", d);
        c.group = p.text("group", d);
    }
    if let Some(n) = f.get("network") {
        c.network = network(n, d);
    }
    if let Some(n) = f.get("security") {
        c.security = super::security::security(n, d);
        if c.security.nesting && c.privileged {
            d.push(
                Diagnostic::at(n.pos, fleet_protocol::security::NESTING_NEEDS_USERNS)
                    .hint("remove privileged: true, or leave nesting off"),
            );
        }
    }
    Some(c)
}

/// An invalid command decodes to an empty argv, so that resolve does not also call it missing.
fn command(node: &Node, d: &mut Diagnostics) -> Option<At<Vec<String>>> {
    let invalid = Some(At::new(node.pos, Vec::new()));
    if let Value::Str(s) = &node.value {
        d.push(
            Diagnostic::at(
                node.pos,
                "\"command\" must be a list of arguments, not a shell string",
            )
            .hint(format!(
                "write it as argv, for example [\"/bin/sh\", \"-c\", {s:?}] or [\"/bin/sleep\", \"1000\"]"
            )),
        );
        return invalid;
    }
    let argv: Vec<String> = fields::strings(node, "command", d)
        .into_iter()
        .map(|a| a.value)
        .collect();
    if argv.is_empty() {
        d.push(
            Diagnostic::at(node.pos, "\"command\" must name a program to run")
                .hint("for example [\"/bin/sleep\", \"1000\"]"),
        );
        return invalid;
    }
    Some(At::new(node.pos, argv))
}

fn network(node: &Node, d: &mut Diagnostics) -> Option<RawNetwork> {
    if let Value::Str(_) = node.value {
        let mode = match fields::choice(node, "network", &["none", "host"], d)? {
            "host" => NetworkMode::Host,
            _ => NetworkMode::None,
        };
        return Some(RawNetwork {
            pos: node.pos,
            mode,
            ..RawNetwork::default()
        });
    }
    let f = Fields::open_nested(node, "network", &["bridge", "addresses", "gateway"], d)?;
    Some(RawNetwork {
        pos: node.pos,
        mode: NetworkMode::Bridged,
        bridge: f.name("bridge", d),
        addresses: f.strings("addresses", d),
        gateway: f.name("gateway", d),
    })
}

fn required(
    f: &Fields<'_>,
    node: &Node,
    key: &str,
    what: &str,
    d: &mut Diagnostics,
) -> Option<At<String>> {
    match f.get(key) {
        Some(n) => fields::name(n, key, d),
        None => {
            d.push(Diagnostic::at(
                node.pos,
                format!("{what} is missing its \"{key}\""),
            ));
            None
        }
    }
}

/// The text of field `key`, named by the key alone in diagnostics (under `node:` too, as it
/// always was).
fn text_of(f: &Fields<'_>, key: &str, d: &mut Diagnostics) -> Option<String> {
    f.get(key)
        .and_then(|n| fields::name(n, key, d))
        .map(|t| t.value)
}

/// `privileged:`, and the `user_namespace:` key it replaced: unprivileged is the default now, so
/// `user_namespace: true` only repeats it (a warning) and `user_namespace: false` asks for
/// something that is now spelled `privileged: true` (an error saying so).
fn privileged(f: &Fields, d: &mut Diagnostics) -> bool {
    let privileged = f
        .get("privileged")
        .and_then(|n| fields::boolean(n, "privileged", d).map(|b| (n.pos, b)));
    let Some(old) = f.get("user_namespace") else {
        return privileged.is_some_and(|(_, b)| b);
    };
    match (fields::boolean(old, "user_namespace", d), privileged) {
        (Some(true), Some((pos, true))) => d.push(
            Diagnostic::at(
                old.pos,
                "\"user_namespace: true\" contradicts \"privileged: true\"",
            )
            .related(pos, "privileged: true is here")
            .hint(
                "keep privileged: true to run as host root, or remove it to keep the default \
                 user namespace; remove user_namespace either way",
            ),
        ),
        (Some(true), _) => d.warn(
            Diagnostic::at(
                old.pos,
                "\"user_namespace: true\" is the default now: every container has its own \
                 unprivileged uid range",
            )
            .hint("remove user_namespace"),
        ),
        (Some(false), _) => d.push(
            Diagnostic::at(
                old.pos,
                "\"user_namespace: false\" is no longer a setting: containers are unprivileged \
                 by default",
            )
            .hint(
                "to run this container as host root, write privileged: true instead (the plan \
                 warns about what it gives up)",
            ),
        ),
        (None, _) => {}
    }
    privileged.is_some_and(|(_, b)| b)
}
