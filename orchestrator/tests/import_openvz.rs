//! `fleet import openvz` end to end, through the real binary: configs of each kind (VSwap, an
//! old UBC set, suffixed units) become a spec that `fleet validate` accepts and that `fleet
//! render` resolves to the same limits, converted exactly; every parameter without an
//! equivalent is named in the spec's comments and on stderr; a broken line is located and the
//! rest of the file is still imported.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

const FLEET: &str = env!("CARGO_BIN_EXE_fleet");

/// vzctl's ve-vswap-1g sample as vzctl 4 writes it, with a container's own lines.
const VSWAP: &str = r#"# RAM
PHYSPAGES="0:262144"
# Swap
SWAPPAGES="0:131072"
# Disk quota parameters (in form of softlimit:hardlimit)
DISKSPACE="2097152:2306867"
DISKINODES="131072:144179"
QUOTATIME="0"
QUOTAUGIDLIMIT="100"
# CPU fair scheduler parameter
CPUUNITS="1000"
CPULIMIT="150"
NUMPROC="240:240"
IOPRIO="6"
VE_ROOT="/vz/root/$VEID"
VE_PRIVATE="/vz/private/$VEID"
OSTEMPLATE="centos-7-x86_64"
ORIGIN_SAMPLE="vswap-1g"
ONBOOT="yes"
HOSTNAME="web1.example.com"
IP_ADDRESS="10.0.0.5 10.0.0.6/24 2001:db8::5"
NAMESERVER="8.8.8.8 8.8.4.4"
NAME="web1"
"#;

/// An old UBC config (OpenVZ before VSwap): memory from PRIVVMPAGES, the rest counted only.
const UBC: &str = r#"KMEMSIZE="14372700:14790164"
LOCKEDPAGES="256:256"
PRIVVMPAGES="65536:69632"
SHMPAGES="21504:21504"
NUMPROC="240:240"
PHYSPAGES="0:2147483647"
VMGUARPAGES="33792:2147483647"
OOMGUARPAGES="26112:2147483647"
NUMTCPSOCK="360:360"
NUMFLOCK="188:206"
NUMPTY="16:16"
NUMSIGINFO="256:256"
TCPSNDBUF="1720320:2703360"
TCPRCVBUF="1720320:2703360"
OTHERSOCKBUF="1126080:2097152"
DGRAMRCVBUF="262144:262144"
NUMOTHERSOCK="360:360"
DCACHESIZE="3409920:3624960"
NUMFILE="9312:9312"
NUMIPTENT="128:128"
DISKSPACE="1048576:1153024"
DISKINODES="200000:220000"
CPUUNITS="1000"
ONBOOT="no"
"#;

/// Sizes with suffixes, as `vzctl set --physpages 1G --save` writes them.
const SUFFIXED: &str = r#"PHYSPAGES="512M:1G"
SWAPPAGES="0:256M"
DISKSPACE="10G:12G"
DISKINODES="200000:220000"
IOLIMIT="10M"
IOPSLIMIT="500"
CPUS="2"
CPUMASK="0-1"
"#;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `fleet ARGS...` run in the directory.
    fn fleet(&self, args: &[&str]) -> Output {
        Command::new(FLEET)
            .args(args)
            .current_dir(self.0.path())
            .output()
            .expect("run fleet")
    }

    /// `fleet import openvz ARGS...` run in the directory.
    fn import(&self, args: &[&str]) -> Output {
        self.fleet(&[&["import", "openvz"][..], args].concat())
    }

    /// `spec` written into the directory as fleet.yaml, rendered by `fleet render -o json`.
    fn render(&self, spec: &str) -> Value {
        let file = self.write("fleet.yaml", spec);
        let render = self.fleet(&["render", "-f", file.to_str().unwrap(), "-o", "json"]);
        assert!(render.status.success(), "{}", text(&render.stderr));
        serde_json::from_slice(&render.stdout).unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Imports `configs` (written into a fresh directory), checks the spec validates, and returns
/// the spec text, import's stderr and the rendered containers by name.
fn import(configs: &[(&str, &str)], expect_ok: bool) -> (String, String, Vec<Value>) {
    let dir = Dir::new();
    let mut args = vec!["import", "openvz", "--no-global"];
    let paths: Vec<String> = configs
        .iter()
        .map(|(name, text)| dir.write(name, text).display().to_string())
        .collect();
    args.extend(paths.iter().map(String::as_str));
    let out = dir.fleet(&args);
    let (spec, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.success(), expect_ok, "import: {stderr}");
    let file = dir.write("fleet.yaml", &spec);
    let valid = dir.fleet(&["validate", "-f", file.to_str().unwrap()]);
    assert!(
        valid.status.success(),
        "the imported spec must validate:\n{spec}\n{}",
        text(&valid.stderr)
    );
    let rendered = dir.render(&spec);
    let containers = rendered["containers"].as_array().unwrap().clone();
    (spec, stderr, containers)
}

fn container<'a>(containers: &'a [Value], name: &str) -> &'a Value {
    containers
        .iter()
        .map(|c| &c["spec"])
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {containers:?}"))
}

#[test]
fn a_vswap_config_keeps_its_limits_exactly() {
    let (spec, stderr, containers) = import(&[("101.conf", VSWAP)], true);
    let c = container(&containers, "web1");
    let r = &c["resources"];
    assert_eq!(r["memory"], 262_144u64 * 4096, "PHYSPAGES is 4 KiB pages");
    assert_eq!(r["swap"], 131_072u64 * 4096);
    assert_eq!(
        r["disk_space"],
        2_306_867u64 * 1024,
        "the hard limit, 1 KiB blocks"
    );
    assert_eq!(r["disk_inodes"], 144_179);
    assert_eq!(c["disk"]["user_quota"], true, "QUOTAUGIDLIMIT other than 0");
    assert!(spec.contains("QUOTAUGIDLIMIT=100 (how many ids"), "{spec}");
    assert_eq!(r["cpu_units"], 1000);
    assert_eq!(r["cpu_limit"], 150, "percent of one CPU");
    assert_eq!(r["pids"], 240);
    assert_eq!(r["io"]["priority"], 6, "IOPRIO as OpenVZ wrote it");
    assert!(
        spec.contains("IOPRIO=6 (io.weight 120, OpenVZ's blkio weight 600"),
        "the weight it is written as, in the comment:\n{spec}"
    );
    assert_eq!(c["hostname"], "web1.example.com");
    assert_eq!(c["onboot"], true);
    let addresses: Vec<&str> = c["network"]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["10.0.0.5/32", "10.0.0.6/24", "2001:db8::5/128"]);
    // What has no equivalent is named, in the spec and on stderr.
    for key in ["NAMESERVER", "QUOTATIME", "VE_ROOT", "ORIGIN_SAMPLE"] {
        assert!(
            spec.contains(&format!("#   {key}=")),
            "{key} in the spec:\n{spec}"
        );
        assert!(stderr.contains(key), "{key} on stderr:\n{stderr}");
    }
    assert!(
        spec.contains("# PHYSPAGES=0:262144"),
        "fields name their source:\n{spec}"
    );
    assert!(spec.contains("OSTEMPLATE=centos-7-x86_64"), "{spec}");
}

#[test]
fn an_old_ubc_config_takes_memory_from_privvmpages_and_names_every_other_counter() {
    let (spec, stderr, containers) = import(&[("102.conf", UBC)], true);
    let c = container(&containers, "102");
    let r = &c["resources"];
    assert_eq!(
        r["memory"],
        69_632u64 * 4096,
        "PRIVVMPAGES' limit when PHYSPAGES is unlimited"
    );
    assert_eq!(r["disk_space"], 1_153_024u64 * 1024);
    assert_eq!(r["disk_inodes"], 220_000);
    assert_eq!(r["pids"], 240);
    assert_eq!(c["onboot"], false);
    let unmapped = [
        "KMEMSIZE",
        "LOCKEDPAGES",
        "SHMPAGES",
        "VMGUARPAGES",
        "OOMGUARPAGES",
        "NUMTCPSOCK",
        "NUMFLOCK",
        "NUMPTY",
        "NUMSIGINFO",
        "TCPSNDBUF",
        "TCPRCVBUF",
        "OTHERSOCKBUF",
        "DGRAMRCVBUF",
        "NUMOTHERSOCK",
        "DCACHESIZE",
        "NUMFILE",
        "NUMIPTENT",
    ];
    let summary = stderr
        .lines()
        .find(|l| l.contains("(CTID 102)"))
        .unwrap_or_else(|| panic!("a summary line for 102:\n{stderr}"));
    for key in unmapped {
        assert!(
            spec.contains(&format!("#   {key}=")),
            "{key} in the spec:\n{spec}"
        );
        assert!(summary.contains(key), "{key} in the summary: {summary}");
    }
}

#[test]
fn suffixed_units_convert_in_powers_of_1024() {
    let (_, _, containers) = import(&[("103.conf", SUFFIXED)], true);
    let r = &container(&containers, "103")["resources"];
    assert_eq!(r["memory"], 1u64 << 30);
    assert_eq!(r["swap"], 256u64 << 20);
    assert_eq!(r["disk_space"], 12u64 << 30);
    assert_eq!(r["disk_inodes"], 220_000);
    assert_eq!(r["cpu_limit"], 200, "CPUS=2 is two CPUs' worth of time");
    assert_eq!(r["cpus"], "0-1");
    for key in ["read_bps", "write_bps"] {
        assert_eq!(r["io"][key], 10u64 << 20, "IOLIMIT caps both directions");
    }
    for key in ["read_iops", "write_iops"] {
        assert_eq!(r["io"][key], 500);
    }
}

#[test]
fn a_broken_line_is_located_and_the_rest_imported() {
    let broken = "PHYSPAGES=\"0:65536\"\nthis is not an assignment\nIOPRIO=\"9\"\nNUMPROC=\"100:100\"\nBOGUSPARAM=1\nHOSTNAME=\"half";
    let (spec, stderr, containers) = import(&[("104.conf", broken), ("105.conf", SUFFIXED)], false);
    // Each broken line is named where it is, with what was wrong.
    for (said, why) in [
        ("104.conf:2:1: error", "not an assignment"),
        ("104.conf:3:8: error: IOPRIO", "a priority out of range"),
        ("0 to 7", "what would be valid"),
        (
            "104.conf:5:1: warning: unknown parameter BOGUSPARAM",
            "an unknown parameter",
        ),
        ("104.conf:6:10: error", "an open quote"),
    ] {
        assert!(stderr.contains(said), "{why}: {said:?} missing: {stderr}");
    }
    assert!(
        spec.contains("#   BOGUSPARAM=1: unknown parameter"),
        "{spec}"
    );
    // The rest of the broken file and the other file are imported.
    let r = &container(&containers, "104")["resources"];
    assert_eq!(r["memory"], 65_536u64 * 4096);
    assert_eq!(r["pids"], 100);
    container(&containers, "105");
}

#[test]
fn an_unreadable_config_is_named_and_the_others_imported() {
    let dir = Dir::new();
    let good = dir.write("103.conf", SUFFIXED);
    let missing = dir.0.path().join("999.conf");
    let out = dir.import(&[
        "--no-global",
        missing.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("999.conf") && stderr.contains("cannot read"),
        "{stderr}"
    );
    assert!(text(&out.stdout).contains("name: \"103\""));
}

#[test]
fn vz_conf_gives_defaults_and_the_container_overrides_them() {
    let dir = Dir::new();
    let global = dir.write(
        "vz.conf",
        "VIRTUOZZO=yes\nLOCKDIR=/vz/lock\nVE_PRIVATE=/vz/private/$VEID\nIOPRIO=2\nCPUUNITS=500\n",
    );
    let conf = dir.write("106.conf", "CPUUNITS=\"2000\"\nPHYSPAGES=\"0:1G\"\n");
    let out = dir.import(&["--global", global.to_str().unwrap(), conf.to_str().unwrap()]);
    let (spec, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        spec.contains("priority: 2") && spec.contains("IOPRIO=2 (vz.conf)"),
        "{spec}"
    );
    assert!(
        spec.contains("units: 2000"),
        "the container's own value wins:\n{spec}"
    );
    assert!(
        stderr.contains("VIRTUOZZO") && stderr.contains("LOCKDIR"),
        "{stderr}"
    );
}

#[test]
fn devnodes_and_devices_become_granted_devices_by_path() {
    // vzctl writes both for `--devnodes fuse:rw`; DEVICES also names tun by number, and one
    // device Fleet cannot name by path.
    let conf = "PHYSPAGES=\"0:262144\"\nDEVNODES=\"fuse:rw net/tun:r \"\nDEVICES=\"c:10:229:rw c:10:232:rw b:8:16:rw \"\n";
    let (spec, stderr, containers) = import(&[("106.conf", conf)], true);
    let devices = &container(&containers, "106")["security"]["devices"];
    assert_eq!(
        devices,
        &serde_json::json!([
            {"path": "/dev/fuse", "access": "rw"},
            {"path": "/dev/net/tun", "access": "r"},
            {"path": "/dev/kvm", "access": "rw"},
        ]),
        "{spec}"
    );
    assert!(
        stderr.contains("106.conf:3:9: warning: DEVICES: \"b:8:16:rw\" is not imported"),
        "{stderr}"
    );
    assert!(spec.contains("b:8:16:rw: grant it by path"), "{spec}");
    let bad = "DEVNODES=\"fuse:rx\"\n";
    let (_, stderr, _) = import(&[("107.conf", bad)], false);
    assert!(
        stderr.contains("107.conf:1:10: error: DEVNODES: \"fuse:rx\": access \"rx\""),
        "{stderr}"
    );
}

#[test]
fn private_areas_become_the_disk_and_a_ploop_image_is_refused_with_how_to_convert_it() {
    let dir = Dir::new();
    let private = dir.0.path().join("private");
    std::fs::create_dir_all(private.join("201/etc")).unwrap();
    std::fs::write(private.join("201/etc/hostname"), "old\n").unwrap();
    std::fs::create_dir_all(private.join("202/root.hdd")).unwrap();
    let simfs = dir.write("201.conf", "DISKSPACE=\"1G:1G\"\nVE_LAYOUT=\"simfs\"\n");
    let ploop = dir.write("202.conf", "DISKSPACE=\"1G:1G\"\nVE_LAYOUT=\"ploop\"\n");
    let out = dir.import(&[
        "--no-global",
        "--private",
        private.to_str().unwrap(),
        simfs.to_str().unwrap(),
        ploop.to_str().unwrap(),
    ]);
    let (spec, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "the ploop area is an error: {stderr}"
    );
    assert!(
        stderr.contains("is a ploop image (root.hdd)") && stderr.contains("qemu-img convert"),
        "{stderr}"
    );
    let rendered = dir.render(&spec);
    let containers = rendered["containers"].as_array().unwrap().clone();
    let c201 = container(&containers, "201");
    assert_eq!(
        c201["disk"]["from"],
        private.join("201").to_str().unwrap(),
        "the simfs area is the disk's first content: {spec}"
    );
    assert_eq!(c201["template"]["kind"], "busybox", "{spec}");
    assert!(container(&containers, "202")["disk"]["from"].is_null());
}

#[test]
fn host_and_address_name_the_host_every_container_is_pinned_to() {
    let dir = Dir::new();
    let conf = dir.write(
        "301.conf",
        "PHYSPAGES=\"0:65536\"\nHOSTNAME=\"a.example\"\n",
    );
    let out = dir.import(&[
        "--no-global",
        "--host",
        "old-node-1",
        "--address",
        "192.0.2.7",
        conf.to_str().unwrap(),
    ]);
    let (spec, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let rendered = dir.render(&spec);
    let hosts = rendered["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{spec}");
    assert_eq!(hosts[0]["name"], "old-node-1", "{spec}");
    assert_eq!(hosts[0]["transport"]["kind"], "ssh", "{spec}");
    assert_eq!(hosts[0]["transport"]["address"], "192.0.2.7", "{spec}");
    let containers = rendered["containers"].as_array().unwrap();
    assert_eq!(containers[0]["host"], "old-node-1", "{rendered}");
}
