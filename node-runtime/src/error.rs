//! The runtime's error type: every variant names the path, value or container concerned and, for
//! bad input, what would be valid. The CLI prints these; the server turns them into
//! `ActionOutcome::Failed`.

use std::io;
use std::path::PathBuf;

/// Anything that can go wrong in `fleet-node`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem or kernel operation on a path failed.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// What was being done (`write`, `create directory`, ...).
        action: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A file under the root did not hold valid JSON.
    #[error("failed to parse {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The container name cannot be used.
    #[error(
        "invalid container name {name:?}: {reason}; names are 1-64 characters of letters, digits, '-', '_' and '.', not starting with '.'"
    )]
    InvalidName {
        /// The offending name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No container of that name on this node.
    #[error("container {0:?} does not exist on this node (see `fleet-node list`)")]
    NotFound(String),
    /// Create of an existing container with a different spec.
    #[error("container {0:?} already exists with another spec; destroy it first or send an update")]
    SpecConflict(String),
    /// Template name given on the command line is not known.
    #[error(
        "unknown template {0:?}: expected host, busybox, or the path of a .tar/.tar.gz file given with --sha256"
    )]
    UnknownTemplate(String),
    /// The busybox template needs busybox-static.
    #[error(
        "the busybox template needs a static busybox at {0}: install the busybox-static package (apt-get install busybox-static)"
    )]
    BusyboxMissing(PathBuf),
    /// A tarball template's digest did not match.
    #[error("tarball {path} has sha256 {actual}, but the template says {expected}")]
    ChecksumMismatch {
        /// The tarball.
        path: PathBuf,
        /// Digest in the spec.
        expected: String,
        /// Digest of the file.
        actual: String,
    },
    /// A tarball template's sha256 is not 64 hex digits.
    #[error("invalid sha256 {0:?} for a tarball template: expected 64 lowercase hex digits")]
    BadDigest(String),
    /// A helper program failed.
    #[error("{program} failed ({status}): {stderr}")]
    Command {
        /// Program and arguments.
        program: String,
        /// Exit status.
        status: String,
        /// What it printed on stderr.
        stderr: String,
    },
    /// Installing the systemd unit failed, or a setting cannot go into it.
    #[error("fleet-node.service: {0}")]
    Unit(String),
    /// Another supervisor already watches this node root.
    #[error(
        "a supervisor already runs for {root}: {holder}; one per node (stop it, or use another --root)"
    )]
    Supervised {
        /// The node root.
        root: PathBuf,
        /// Who holds it.
        holder: String,
    },
    /// The container's init could not be started.
    #[error("failed to start container {name:?}: {message}")]
    Spawn {
        /// Container name.
        name: String,
        /// What the child reported.
        message: String,
    },
    /// The container is not running (for exec).
    #[error("container {0:?} is not running; start it first")]
    NotRunning(String),
    /// An update changes fields that only take effect after a restart.
    #[error("changing {fields} of container {name:?} needs a restart; allow a restart to apply it")]
    NeedsRestart {
        /// Container name.
        name: String,
        /// Comma-separated field names.
        fields: String,
    },
    /// An update changes fields that only a new container can take (the template).
    #[error(
        "changing {fields} of container {name:?} needs a recreate: destroy it and create it again \
         (its data is lost)"
    )]
    NeedsRecreate {
        /// Container name.
        name: String,
        /// Comma-separated field names.
        fields: String,
    },
    /// Setting up or changing the container's network failed (`crate::network`).
    #[error("network of container {name:?}: {source}")]
    Network {
        /// Container name.
        name: String,
        /// What the network module reported.
        source: crate::network::NetworkError,
    },
    /// A write into (or read from) a container's own tree failed or was refused
    /// (`crate::safe_write`).
    #[error(transparent)]
    ContainerTree(#[from] crate::safe_write::TreeError),
    /// Every uid/gid range of the node's pool is held by a container.
    #[error(
        "no free uid range for container {name:?}: the pool {pool} holds {capacity} ranges of 65536 ids and every one is held or overlaps the host's own ids (/etc/subuid, /etc/subgid, local accounts); destroy containers, give the node a wider --uid-pool, or make this container privileged: true"
    )]
    UidRangesExhausted {
        /// The container that needed a range.
        name: String,
        /// The pool, `START-END`.
        pool: String,
        /// How many ranges the pool holds.
        capacity: u32,
    },
    /// A live move's restore needs the uid range its tree was dumped with, and it is not free
    /// here.
    #[error(
        "container {name:?} cannot be restored here: its processes keep the user namespace they were dumped with (host ids from {base}), and that range is held by another container of this node or outside its pool; move it cold instead (it restarts)"
    )]
    UidRangeTaken {
        /// The container.
        name: String,
        /// First host id of the range it needs.
        base: u32,
    },
    /// `--uid-pool` or `$FLEET_NODE_UID_POOL` is not a usable pool.
    #[error("{0}")]
    UidPool(String),
    /// A node setting from the environment (such as `$FLEET_NODE_CONSOLE_LOG_MAX`) is not usable.
    #[error("{0}")]
    Setting(String),
    /// The record of held uid ranges cannot be read.
    #[error(
        "the uid range record {path} is damaged ({reason}); fleet-node will not guess which ranges are free: restore it, or move it away and it is rebuilt from each container's state.json"
    )]
    RangesDamaged {
        /// The record.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// A limit was refused or could not be applied (`crate::limits`).
    #[error("invalid spec for container {name:?}: {source}")]
    Limit {
        /// Container name.
        name: String,
        /// What the limits module reported (boxed: it is large, and rare).
        source: Box<crate::limits::error::LimitError>,
    },
    /// A disk operation was refused or failed (`crate::disk`).
    #[error("invalid spec for container {name:?}: {source}")]
    Disk {
        /// Container name.
        name: String,
        /// What the disk module reported (boxed: it is large, and rare).
        source: Box<crate::disk::DiskError>,
    },
    /// A checkpoint, restore, snapshot or clone failed or was refused (`crate::checkpoint`);
    /// the message names what was wrong and, for CRIU, its log file.
    #[error("{verb} of container {name:?}: {message}")]
    Checkpoint {
        /// `checkpoint`, `restore`, `snapshot`, `clone`.
        verb: &'static str,
        /// Container name.
        name: String,
        /// What happened, and what would be right.
        message: String,
    },
    /// The spec has an invalid value.
    #[error("invalid spec for container {name:?}: {message}")]
    InvalidSpec {
        /// Container name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Result with the runtime's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for building [`Error::Io`] in `map_err`.
pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
