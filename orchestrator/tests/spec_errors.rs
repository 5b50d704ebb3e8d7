//! Bad specs in, the exact errors a user sees out: `file:line:col: error: ...`, the quoted line,
//! the caret and the hint. Tables of cases (spec body in, diagnostics out) through one check each.

mod spec_check;

use fleet::resolve;
use spec_check::{
    Case, check_headline_ends, check_headlines, check_messages, check_rendered, messages, spec,
};

/// Each case's every rendered diagnostic: location, quoted line, caret, hint and note.
const RENDERED: &[Case<&str>] = &[
    (
        "an unknown field suggests the right one",
        "profiles:\n  - name: p\n    memroy: 1Gi\n",
        r#"
fleet.yaml:5:5: error: unknown field "memroy" in a profile
  |
5 |     memroy: 1Gi
  |     ^^^^^^
  = hint: did you mean "memory"?
"#,
    ),
    (
        "range errors name the valid range",
        "profiles:\n  - name: p\n    cpu: {units: 7}\n",
        r#"
fleet.yaml:5:18: error: "cpu.units" must be between 8 and 500000, found 7
  |
5 |     cpu: {units: 7}
  |                  ^
"#,
    ),
    (
        "a command must be argv, not a shell string",
        "containers:\n  - name: a\n    template: busybox\n    command: sleep 10\n",
        r#"
fleet.yaml:6:14: error: "command" must be a list of arguments, not a shell string
  |
6 |     command: sleep 10
  |              ^^^^^^^^
  = hint: write it as argv, for example ["/bin/sh", "-c", "sleep 10"] or ["/bin/sleep", "1000"]
"#,
    ),
    (
        "duplicate names after expansion name both places",
        "containers:\n  - name: web-{1..3}\n    template: busybox\n    command: [x]\n  - name: web-2\n    template: busybox\n    command: [x]\n",
        r#"
fleet.yaml:7:11: error: container "web-2" is defined twice
  |
7 |   - name: web-2
  |           ^^^^^
  = hint: give each container (and each set member) its own name
  = note: first defined at fleet.yaml:4:11
"#,
    ),
    (
        "pinned containers over capacity",
        "hosts:\n  - name: h\n    transport: local\n    capacity: {memory: 1Gi}\n    overcommit: {memory: 1.5}\ncontainers:\n  - name: c{1..4}\n    host: h\n    template: busybox\n    command: [x]\n    resources: {memory: 512Mi}\n",
        r#"
fleet.yaml:6:24: error: the 4 containers pinned to host "h" need 2Gi of memory but it allows 1536Mi (1Gi x overcommit 1.5)
  |
6 |     capacity: {memory: 1Gi}
  |                        ^^^
  = hint: raise capacity.memory or overcommit.memory, or pin fewer containers here
"#,
    ),
    (
        "the old user_namespace: false points at privileged",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    user_namespace: false\n",
        r#"
fleet.yaml:7:21: error: "user_namespace: false" is no longer a setting: containers are unprivileged by default
  |
7 |     user_namespace: false
  |                     ^^^^^
  = hint: to run this container as host root, write privileged: true instead (the plan warns about what it gives up)
"#,
    ),
    (
        "privileged with user_namespace names both fields",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    privileged: true\n    user_namespace: true\n",
        r#"
fleet.yaml:8:21: error: "user_namespace: true" contradicts "privileged: true"
  |
8 |     user_namespace: true
  |                     ^^^^
  = hint: keep privileged: true to run as host root, or remove it to keep the default user namespace; remove user_namespace either way
  = note: privileged: true is here at fleet.yaml:7:17
"#,
    ),
    (
        "an unknown system call name suggests the right one",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    security:\n      syscalls:\n        allow: [io_uring_setpu]\n",
        r#"
fleet.yaml:9:17: error: unknown system call "io_uring_setpu" in syscalls.allow
  |
9 |         allow: [io_uring_setpu]
  |                 ^^^^^^^^^^^^^^
  = hint: did you mean "io_uring_setup"?
"#,
    ),
    (
        "an unknown init mode names the choices",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    init: tiny\n",
        r#"
fleet.yaml:7:11: error: "init" must be one of auto, builtin, none, found "tiny"
  |
7 |     init: tiny
  |           ^^^^
"#,
    ),
    (
        "an unknown restart policy names the choices",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    restart: on-failur\n",
        r#"
fleet.yaml:7:14: error: "restart" must be one of no, on-failure, always, found "on-failur"
  |
7 |     restart: on-failur
  |              ^^^^^^^^^
  = hint: did you mean "on-failure"?
"#,
    ),
];

/// Each case's diagnostics by their first line (`file:line:col: error: message`).
const HEADLINES: &[Case<&[&str]>] = &[
    (
        "every error is reported, not just the first",
        "containers:\n  - name: a\n    template: busybx\n    command: [x]\n    resources: {memory: 12Qi, pids: 0}\n  - name: b\n    template: busybox\n    command: [x]\n    profile: smal\n",
        &[
            "fleet.yaml:5:15: error: unknown template \"busybx\"",
            "fleet.yaml:7:25: error: \"memory\": invalid size \"12Qi\": expected a number with an optional unit, such as 512Mi, 2Gi or 1G (Ki/Mi/Gi/Ti are powers of 1024, K/M/G/T powers of 1000)",
            "fleet.yaml:7:37: error: \"pids\" must be between 1 and 4194304, found 0",
            "fleet.yaml:11:14: error: unknown profile \"smal\"",
        ],
    ),
    (
        "bad security values: nesting not a boolean, a call both allowed and denied, a call fleet-node needs, an unknown field",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    security:\n      nesting: yes please\n      syscalls: {allow: [mount], deny: [mount, execve], permit: []}\n",
        &[
            "fleet.yaml:8:16: error: expected true or false for \"security.nesting\", found a string",
            "fleet.yaml:9:41: error: system call \"mount\" is both allowed and denied",
            "fleet.yaml:9:48: error: system call \"execve\" cannot be denied: fleet-node needs it to start the command",
            "fleet.yaml:9:57: error: unknown field \"permit\" in security.syscalls",
        ],
    ),
    (
        "bad restart values: an unknown policy or field, no policy, not a policy word",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    restart: {policy: sometimes, max_retry: 3}\n  - name: b\n    template: busybox\n    command: [x]\n    restart: {max_retries: -1}\n  - name: c\n    template: busybox\n    command: [x]\n    restart: false\n",
        &[
            "fleet.yaml:7:23: error: \"restart.policy\" must be one of no, on-failure, always, found \"sometimes\"",
            "fleet.yaml:7:34: error: unknown field \"max_retry\" in restart",
            "fleet.yaml:11:14: error: \"restart\" needs a \"policy\"",
            "fleet.yaml:15:14: error: \"restart\" must be a policy word, found false",
        ],
    ),
];

/// Each case's diagnostics by their message alone.
const MESSAGES: &[Case<&[&str]>] = &[
    (
        "dependency cycles are printed",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    depends_on: [b]\n  - name: b\n    template: busybox\n    command: [x]\n    depends_on: [a]\n",
        &["depends_on forms a cycle: a -> b -> a"],
    ),
    (
        "duplicate addresses and bad CIDRs",
        "containers:\n  - name: w{1..2}\n    template: busybox\n    command: [x]\n    network: {addresses: [\"10.0.0.5/24\"]}\n  - name: x\n    template: busybox\n    command: [x]\n    network: {addresses: [\"10.0.0.300/24\"], gateway: 10.9.9.1}\n",
        &[
            "address 10.0.0.5 of container \"w2\" is already used by \"w1\"",
            "invalid address: \"10.0.0.300\" is not an IPv4 or IPv6 address",
            "gateway 10.9.9.1 is outside the subnets of the container's addresses",
        ],
    ),
    (
        "references and overcommit ranges",
        "hosts:\n  - name: h\n    address: 127.0.0.2\n    overcommit: {cpu: 0.5}\ncontainers:\n  - name: c\n    host: hh\n    template: busybox\n    command: [x]\n    depends_on: [d]\n",
        &[
            "\"overcommit.cpu\" must be between 1 and 100, found 0.5",
            "unknown host \"hh\"",
            "depends_on names unknown container \"d\"",
        ],
    ),
];

/// Each case's diagnostics by how their first line starts and how it ends.
const HEADLINE_ENDS: &[Case<&[(&str, &str)]>] = &[
    (
        "placement problems are located at the container",
        "hosts:\n  - name: h\n    transport: local\n    labels: {zone: a}\n    capacity: {cpus: 2, memory: 1Gi, disk: 10Gi}\ncontainers:\n  - name: big\n    template: busybox\n    command: [x]\n    resources: {memory: 4Gi}\n  - name: lost\n    template: busybox\n    command: [x]\n    placement: {selector: {zone: b}}\n",
        &[
            ("fleet.yaml:9:11: error: resources.memory: needs 4Gi", ""),
            ("fleet.yaml:13:11: error: placement.selector: selector", ""),
        ],
    ),
    (
        "nesting with privileged is refused at the security field",
        "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    privileged: true\n    security:\n      nesting: true\n",
        &[(
            "fleet.yaml:9:",
            fleet_protocol::security::NESTING_NEEDS_USERNS,
        )],
    ),
];

#[test]
fn bad_specs_render_every_error_with_its_place_and_hint() {
    check_rendered(RENDERED);
}

#[test]
fn bad_specs_name_every_error_at_its_place() {
    check_headlines(HEADLINES);
}

#[test]
fn bad_specs_name_each_error_at_its_place_by_how_it_starts_and_ends() {
    check_headline_ends(HEADLINE_ENDS);
}

#[test]
fn bad_specs_say_what_is_wrong() {
    check_messages(MESSAGES);
}

#[test]
fn yaml_syntax_errors_are_located() {
    let err =
        resolve::load_str("fleet.yaml", "apiVersion: fleet/v1\nfleet: [unclosed\n").unwrap_err();
    let first = err.render();
    assert!(first.starts_with("fleet.yaml:"), "{first}");
}

#[test]
fn missing_api_version_and_fleet() {
    let err = resolve::load_str("fleet.yaml", "hosts: []\n").unwrap_err();
    let messages: Vec<&str> = err.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages, ["missing \"apiVersion\""]);
    let err = resolve::load_str("fleet.yaml", "apiVersion: fleet/v1\nhosts: []\n").unwrap_err();
    assert_eq!(err.diagnostics[0].message, "no document names the fleet");
}

#[test]
fn names_with_slashes_or_dots_are_refused() {
    for bad in ["a/b", "..", "x..y", "-a"] {
        let input = spec(&format!(
            "containers:\n  - name: \"{bad}\"\n    template: busybox\n    command: [x]\n"
        ));
        let err = resolve::load_str("fleet.yaml", &input).unwrap_err();
        assert!(
            err.diagnostics[0]
                .message
                .starts_with("invalid container name"),
            "{bad}: {}",
            err.render()
        );
    }
}

#[test]
fn one_bridge_on_one_host_has_one_subnet() {
    let input = spec(
        "hosts:\n  - {name: h, transport: local}\ncontainers:\n  - name: a\n    host: h\n    template: busybox\n    command: [x]\n    network: {addresses: [\"10.0.0.5/24\"], gateway: 10.0.0.1}\n  - name: b\n    host: h\n    template: busybox\n    command: [x]\n    network: {addresses: [\"10.1.0.5/24\"], gateway: 10.1.0.1}\n",
    );
    assert_eq!(
        messages(&input),
        [
            "container \"b\" puts bridge fleet0 on host h at 10.1.0.1/24, but \"a\" puts it at 10.0.0.1/24"
        ]
    );
    // The same subnets on two hosts are two bridges: fine.
    let ok = input.replace("  - name: b\n    host: h", "  - name: b\n    host: h2").replace(
        "hosts:\n  - {name: h, transport: local}",
        "hosts:\n  - {name: h, transport: local}\n  - {name: h2, transport: local, node: {root: /tmp/x}}",
    );
    resolve::load_str("fleet.yaml", &ok).unwrap_or_else(|e| panic!("{}", e.render()));
}

#[test]
fn restart_policies_resolve_into_the_spec() {
    let fleet = resolve::load_str(
        "fleet.yaml",
        &spec(
            "containers:\n  - name: a\n    template: busybox\n    command: [x]\n    restart: always\n  - name: b\n    template: busybox\n    command: [x]\n    restart: {policy: on-failure, max_retries: 5}\n  - name: c\n    template: busybox\n    command: [x]\n    restart: no\n",
        ),
    )
    .unwrap();
    let shown: Vec<String> = fleet
        .containers
        .iter()
        .map(|c| c.spec.restart.show())
        .collect();
    assert_eq!(shown, ["always", "on-failure (max 5)", "no"]);
}
