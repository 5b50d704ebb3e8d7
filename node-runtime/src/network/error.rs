//! The network module's one error type. Every variant names the value, interface or namespace
//! it is about, and input errors say what would be valid.

use std::path::PathBuf;

/// What went wrong while checking a network spec or talking netlink.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// An address is not a valid interface CIDR.
    #[error("invalid address {value:?}: {reason}; expected CIDR such as 10.0.0.5/24 or fd00::5/64")]
    InvalidCidr {
        /// The address as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The same address appears twice in one container's list.
    #[error("address {value:?} is listed more than once; list each address once")]
    DuplicateAddress {
        /// The repeated address.
        value: String,
    },
    /// The gateway is malformed or unusable with the container's addresses.
    #[error("invalid gateway {value:?}: {reason}")]
    InvalidGateway {
        /// The gateway as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A bridge name the kernel would refuse.
    #[error(
        "invalid interface name {name:?}: {reason}; use 1 to 15 bytes without '/', ':' or whitespace"
    )]
    InvalidInterfaceName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The bridge name is taken by an interface of another kind.
    #[error(
        "interface {name} exists but is a {kind} device, not a bridge; name another bridge in the spec"
    )]
    NotABridge {
        /// The interface name.
        name: String,
        /// Its link kind (`veth`, `dummy`, `unknown`...).
        kind: String,
    },
    /// Addresses or a gateway given for a container that has no veth to carry them.
    #[error(
        "address {value:?} needs network mode bridged, but the mode is {mode}; set mode: bridged or remove the addresses and gateway"
    )]
    NotBridged {
        /// The first address (or gateway) given.
        value: String,
        /// The mode in the spec.
        mode: String,
    },
    /// The change cannot be made by `update_addresses` alone.
    #[error(
        "network change from {from} to {to} cannot be applied by an address update; detach and attach again (or restart for mode host)"
    )]
    NeedsReattach {
        /// The old setting.
        from: String,
        /// The new setting.
        to: String,
    },
    /// An interface that should exist does not.
    #[error("interface {name} not found in {place}")]
    LinkNotFound {
        /// The interface name.
        name: String,
        /// Which namespace was searched (`the host`, `container init pid 1234`).
        place: String,
    },
    /// The container's network namespace cannot be opened (init gone, wrong pid).
    #[error("failed to open network namespace {path}: {source}")]
    OpenNamespace {
        /// The namespace file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// setns(2) into the container's network namespace failed.
    #[error("failed to enter network namespace {path}: {source}")]
    EnterNamespace {
        /// The namespace file.
        path: PathBuf,
        /// The OS error.
        source: nix::Error,
    },
    /// The worker thread or its runtime or netlink socket could not be set up.
    #[error("failed to start the netlink worker: {0}")]
    Worker(std::io::Error),
    /// The worker thread panicked.
    #[error("the netlink worker thread panicked")]
    WorkerPanicked,
    /// The kernel refused a netlink request.
    #[error("netlink {what} failed: {source}")]
    Netlink {
        /// What was asked (`create bridge fleet0`, `add 10.0.0.5/24 to eth0`...).
        what: String,
        /// The kernel's answer.
        source: rtnetlink::Error,
    },
}

impl NetworkError {
    /// Wraps a netlink error with the request it answers.
    pub(crate) fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Self {
        let what = what.into();
        move |source| NetworkError::Netlink { what, source }
    }
}

/// The errno of a netlink refusal, if that is what the error is (positive, like `libc::ENODEV`).
pub(crate) fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => Some(msg.raw_code().abs()),
        _ => None,
    }
}
