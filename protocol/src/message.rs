//! The wire between `fleet` and `fleet-node serve --stdio`.
//!
//! Each frame is a length-delimited (4-byte big-endian length) JSON document holding one
//! [`Envelope`]. The client opens with [`Request::Hello`]; the node answers with
//! [`Response::Hello`] describing itself, or [`Response::Error`] if the versions differ. After that
//! every request carries an id that its response repeats. A whole host's batch of actions travels
//! in one [`Request::Apply`], so a run costs one round trip per host per wave; a client that asks
//! for progress also gets one [`Response::Progress`] per action as it finishes, with the same id,
//! before the answer.

use serde::{Deserialize, Serialize};

use crate::container::{ContainerSpec, Resources};
use crate::restart::{LastExit, SupervisorInfo};
use crate::snapshot::{SnapshotReply, SnapshotRequest};
use crate::transfer::{Chunk, Export, ImageInfo, PreDumpRound};

pub use crate::action::{Action, ActionOutcome, ActionResult};
pub use crate::apply_lock::{InterruptedBatch, LockHolder};
pub use crate::io_weight::WeightFile;

/// Version of this message set. A node refuses a client whose hello names another.
pub const PROTOCOL_VERSION: u32 = 1;

/// One framed message, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Request id chosen by the client; the response repeats it.
    pub id: u64,
    /// The message itself.
    pub body: T,
}

/// What the orchestrator asks of a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// First message: who is talking and which protocol it speaks.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        protocol_version: u32,
        /// Free-form client identification (`fleet 0.1.0`).
        client: String,
    },
    /// Liveness check.
    Ping,
    /// Every container on the node, with live limits read from the kernel.
    List {
        /// Also read what each running container uses (its beancounters): costs a few file
        /// reads per container, so only density reports ask.
        #[serde(default)]
        usage: bool,
    },
    /// Execute actions in order; one result per action.
    Apply {
        /// Fleet on whose behalf the batch runs (for the node's apply lock).
        fleet: String,
        /// The actions.
        actions: Vec<Action>,
        /// Seconds to wait for the node's apply lock when another apply holds it; 0 fails at
        /// once with an error naming the holder.
        #[serde(default)]
        lock_timeout_secs: u32,
        /// Who runs the apply (`alice@laptop`), recorded as the lock's holder.
        #[serde(default)]
        user: String,
        /// For each action, the earlier actions of this batch that must have succeeded for it
        /// to run (a container's dependency on the same host). An action whose prerequisite did
        /// not succeed is not run: it fails saying which. Empty: every action runs.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        after: Vec<Vec<u32>>,
        /// Send a [`Response::Progress`] as each action finishes, before the batch's
        /// [`Response::Applied`] (a client that did not ask gets only the answer).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        progress: bool,
    },
    /// Source of a move: stop the container, detach its disk, record that it moves to `to`,
    /// and open its image for reading. Answered with [`Response::Exporting`]. Takes the node's
    /// apply lock like a batch (same `fleet`, `user`, `lock_timeout_secs`).
    ExportBegin {
        /// Fleet on whose behalf the move runs.
        fleet: String,
        /// Container name.
        name: String,
        /// Host it moves to (recorded beside the container until the move ends).
        to: String,
        /// Seconds to wait for the apply lock.
        #[serde(default)]
        lock_timeout_secs: u32,
        /// Who runs the apply.
        #[serde(default)]
        user: String,
        /// A live move: CRIU dumps the running container (freeze, dump, the tree ends here)
        /// instead of a stop; the dump follows the disk ([`Request::CheckpointRead`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        live: bool,
    },
    /// Source of a live move, before its `ExportBegin`: one CRIU pre-dump round of the running
    /// container's memory (`--track-mem`; after the first round only the pages dirtied since
    /// the last), its stream then read with [`Request::CheckpointRead`]. The container runs on
    /// (a failed round thaws it). Takes the apply lock as `ExportBegin` does. Answered with
    /// [`Response::PreDumped`].
    PreDump {
        /// Fleet on whose behalf the move runs.
        fleet: String,
        /// Container name.
        name: String,
        /// Seconds to wait for the apply lock.
        #[serde(default)]
        lock_timeout_secs: u32,
        /// Who runs the apply.
        #[serde(default)]
        user: String,
    },
    /// Source of a live move: the next chunk of the dump's stream, after the disk's (before
    /// `ExportBegin`: the last pre-dump round's). Answered with [`Response::ExportData`].
    CheckpointRead {
        /// Container name.
        name: String,
        /// As `ExportRead`'s.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        raw: bool,
    },
    /// Source of a move: the next chunk of the image `ExportBegin` opened, in order.
    /// Answered with [`Response::ExportData`].
    ExportRead {
        /// Container name.
        name: String,
        /// The chunk's bytes raw after the frame's JSON (asked only when the target reads
        /// them: `Features::raw_chunks`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        raw: bool,
    },
    /// Source of a move: the target runs the container; destroy the copy here.
    ExportFinish {
        /// Container name.
        name: String,
    },
    /// Source of a move: the move failed; forget it and start the container again if it ran.
    ExportAbort {
        /// Container name.
        name: String,
    },
    /// Target of a move: get ready to receive container `spec.name` (the name must be free,
    /// the image must fit). Takes the node's apply lock like a batch.
    ImportBegin {
        /// Fleet on whose behalf the move runs.
        fleet: String,
        /// The spec the container gets here.
        spec: Box<ContainerSpec>,
        /// Host it comes from.
        from: String,
        /// The image that will arrive.
        image: ImageInfo,
        /// A live move: the bytes of the checkpoint stream that will follow the image.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint: Option<u64>,
        /// Seconds to wait for the apply lock.
        #[serde(default)]
        lock_timeout_secs: u32,
        /// Who runs the apply.
        #[serde(default)]
        user: String,
    },
    /// Target of a live move, before its `ImportBegin`: pre-dump round `round` (1, 2, ...) of
    /// `bytes` follows in [`Request::ImportCheckpoint`]s; verified and used at the commit.
    /// Takes the apply lock as `ImportBegin` does.
    ImportPreDump {
        /// Fleet on whose behalf the move runs.
        fleet: String,
        /// Container name.
        name: String,
        /// The round, counted from 1.
        round: u32,
        /// Bytes of its stream.
        bytes: u64,
        /// Seconds to wait for the apply lock.
        #[serde(default)]
        lock_timeout_secs: u32,
        /// Who runs the apply.
        #[serde(default)]
        user: String,
    },
    /// Target of a move: one chunk of the image, in order.
    ImportChunk {
        /// Container name.
        name: String,
        /// The bytes.
        chunk: Chunk,
    },
    /// Target of a live move: one chunk of the checkpoint stream, in order (after the image's).
    ImportCheckpoint {
        /// Container name.
        name: String,
        /// The bytes.
        chunk: Chunk,
    },
    /// Target of a move: every chunk was sent; verify the checksum, make the container from
    /// the image and start it if its spec says running (live: restore it, [`Response::Restored`]).
    ImportCommit {
        /// Container name.
        name: String,
        /// The source's checksum of the image (`transfer::DIGEST`), hex.
        digest: String,
        /// The side the layer's owners are on at the source (`Export::layer_ids`).
        layer_ids: u32,
        /// A live move: the source's checksum of the checkpoint stream (`transfer::DIGEST`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        checkpoint_digest: Option<String>,
        /// The source's checksum of each pre-dump round's stream, in order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pre_dump_digests: Vec<String>,
    },
    /// Target of a move: drop what was received.
    ImportAbort {
        /// Container name.
        name: String,
    },
    /// A snapshot or a clone of a container's data, answered with [`Response::Snapshot`].
    Snapshot(SnapshotRequest),
}

/// What a node answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// Answer to [`Request::Hello`].
    Hello(NodeInfo),
    /// Answer to [`Request::Ping`].
    Pong,
    /// Answer to [`Request::List`].
    List {
        /// Containers on the node, sorted by name.
        containers: Vec<ContainerStatus>,
    },
    /// One action of a [`Request::Apply`] that asked for progress has finished; sent with the
    /// request's id before the [`Response::Applied`] that ends the batch.
    Progress {
        /// Position of the action in the batch.
        index: u32,
        /// Its result, as it will be in the answer.
        result: ActionResult,
    },
    /// Answer to [`Request::Apply`], one result per action in the same order.
    Applied {
        /// Results.
        results: Vec<ActionResult>,
    },
    /// Answer to [`Request::ExportBegin`].
    Exporting(Box<Export>),
    /// Answer to [`Request::PreDump`]: the round made, its stream ready to read.
    PreDumped(PreDumpRound),
    /// Answer to [`Request::ExportRead`]: the next chunk, or none and the checksum at the end.
    ExportData {
        /// The next run of the image; `None` when everything was sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chunk: Option<Chunk>,
        /// At the end: the checksum of the whole image (`transfer::DIGEST`), hex.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
    },
    /// Answer to the other move requests: done; `changed` is false when there was nothing to
    /// do (an abort of a move that was not under way).
    Moved {
        /// Whether anything was changed.
        changed: bool,
    },
    /// Answer to a live move's [`Request::ImportCommit`]: restored from its checkpoint, it runs.
    Restored {
        /// Host pid of the restored init.
        init_pid: i32,
        /// Milliseconds CRIU's restore took.
        restore_ms: u64,
    },
    /// Answer to a live move's [`Request::ExportAbort`] when the dump kept for it could not be
    /// restored: the container was started afresh here (its processes restarted). A put-back
    /// that restored it answers [`Response::Moved`].
    StartedAfresh {
        /// Why the restore failed.
        why: String,
    },
    /// Answer to a live move's [`Request::ImportCommit`] when this host cannot restore the
    /// tree but could take the container cold: the user namespace the tree was dumped with
    /// maps the source's uid range, which another container holds here. Nothing of the
    /// container is left here; the orchestrator puts it back on the source and moves it cold.
    LiveRefused {
        /// Why, naming the container and the range.
        message: String,
    },
    /// Answer to [`Request::Snapshot`].
    Snapshot(SnapshotReply),
    /// The request could not be handled at all (malformed frame, wrong version, ...).
    Error {
        /// What was wrong.
        message: String,
    },
}

/// What a node tells about itself in its hello.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Protocol version the node speaks.
    pub protocol_version: u32,
    /// `fleet-node` version.
    pub node_version: String,
    /// Host name of the machine.
    pub hostname: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// 1 or 2.
    pub cgroup_version: u8,
    /// Optional kernel features found at run time.
    pub features: Features,
    /// What the host has.
    pub capacity: Capacity,
    /// An apply batch that was cut off (its journal is still on the node and no apply holds the
    /// lock): the next apply finishes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_batch: Option<Box<InterruptedBatch>>,
    /// The restart supervisor running on the node (`fleet-node supervise`, which the
    /// `fleet-node.service` unit runs); `None` when none runs (or an older node does not say):
    /// everything but restarts by policy works without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supervisor: Option<SupervisorInfo>,
}

/// Optional features, detected at run time rather than assumed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    /// Loop devices can be attached.
    pub loop_devices: bool,
    /// overlayfs is available.
    pub overlayfs: bool,
    /// `criu check` passes.
    pub criu: bool,
    /// The version of that working criu (`4.2`); `None` when there is none (the notes then say
    /// why: missing, or which binary fails `criu check`) or from an older node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criu_version: Option<String>,
    /// That criu can track dirty memory here (`criu check --feature mem_dirty_track`): a live
    /// move from this node pre-dumps memory while the container runs. Older nodes do not say.
    #[serde(default)]
    pub criu_mem_dirty_track: bool,
    /// busybox-static is installed (for the busybox template).
    pub busybox: bool,
    /// io weight counts here: the disk under the node's root runs a scheduler that reads the
    /// weight file (BFQ, or iocost on v2).
    pub io_weight: bool,
    /// The cgroup file that scheduler reads weights from; none where none does. Older nodes do
    /// not say.
    #[serde(default, skip_serializing_if = "WeightFile::is_none")]
    pub io_weight_file: WeightFile,
    /// A running container's disk can grow live (ext4 online resize needs CAP_SYS_RESOURCE);
    /// where it cannot, a grow is a restart. Older nodes do not say: taken as false.
    #[serde(default)]
    pub online_disk_grow: bool,
    /// A running container's granted devices (`security.devices`) change live: the node has a
    /// device guard it can change on a running group (v1's devices controller, or on v2 its
    /// eBPF device program) and adds or removes the node in the container's /dev. Where it
    /// cannot, a change is a restart. Older nodes do not say: taken as false.
    #[serde(default)]
    pub devices_live: bool,
    /// The node reads and writes a move's chunk bytes raw after the frame's JSON, not base64
    /// (`transfer::Chunk::raw`). Older nodes do not say: base64.
    #[serde(default)]
    pub raw_chunks: bool,
    /// Quotas inside a container's disk (`disk.user_quota`) work here: the kernel has the
    /// quota format ext4's quota feature needs ([`crate::disk::USER_QUOTA_KERNEL`]). Older
    /// nodes do not say: taken as false.
    #[serde(default)]
    pub user_quota: bool,
    /// Anything else worth telling an operator (missing controllers and the like).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// A host's capacity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Online CPUs.
    pub cpus: u32,
    /// Total memory in bytes.
    pub memory: u64,
    /// Free disk under the node's root, in bytes.
    pub disk_free: u64,
    /// How many more unprivileged containers the node can give a uid range of their own (its
    /// `--uid-pool` less the ranges held); `None` from a node that does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid_ranges_free: Option<u32>,
    /// The pool and who holds which range of it, so the plan sees a live move whose range is
    /// taken on the target; `None` from a node that does not say (the plan then takes the
    /// range as free, and the target's commit may still refuse the tree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid_ranges: Option<crate::uid_ranges::UidRanges>,
}

impl Capacity {
    /// What a host measures of itself, saying nothing of uid ranges (the node adds those from
    /// its record; a test's node may leave them out, as an older node's hello does).
    pub fn measured(cpus: u32, memory: u64, disk_free: u64) -> Self {
        Self {
            cpus,
            memory,
            disk_free,
            uid_ranges_free: None,
            uid_ranges: None,
        }
    }
}

/// Run state of a container as the node sees it in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerState {
    /// Init is alive.
    Running,
    /// Created, no process.
    Stopped,
    /// Half-made or half-destroyed; the next action on it repairs it.
    Broken,
}

/// One container as a node reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// Owning fleet.
    pub fleet: String,
    /// State found in the kernel.
    pub state: ContainerState,
    /// Host PID of init, when running.
    pub init_pid: Option<i32>,
    /// The spec the container was made from.
    pub spec: ContainerSpec,
    /// Limits as read back from the kernel (cgroup files, disk image), for drift detection.
    pub live: Resources,
    /// What it uses now (running containers only), for density reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Restarts by its restart policy since something last started it (start, apply, boot).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restarts: u32,
    /// How its init last ended on its own (not stopped by a verb), when it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<LastExit>,
    /// A move to this host began and did not end (the source stopped the container for it):
    /// when that host holds the container, the move finished and this copy is left over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<String>,
    /// That move was live and its dump is kept here: the processes are in it, so the container
    /// (stopped) moves live again, or a start here restores it rather than starting it afresh.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub moving_live: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a running container uses, from its cgroup and its disk (the beancounters' "held").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// CPU time used since init started, as an average percent of one CPU.
    pub cpu_percent: u32,
    /// Memory in use, in bytes.
    pub memory: u64,
    /// Space in use on its disk image, in bytes; `None` without an image.
    pub disk: Option<u64>,
    /// Most memory used since it started, when the kernel keeps it (`fleet advise`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_peak: Option<u64>,
    /// Times it hit its memory limit since it started, when the kernel counts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_failcnt: Option<u64>,
    /// Share of the last 60 s in which some of its tasks stalled on memory, in hundredths of a
    /// percent (PSI `memory.pressure`, `some avg60`; cgroup v2 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_pressure: Option<u32>,
}
