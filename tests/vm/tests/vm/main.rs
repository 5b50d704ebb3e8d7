//! The VM tier: every test boots real Debian 12 hosts under QEMU (see the `fleet_vm` crate) and
//! drives them through `fleet` only. One test binary, so the tests share one image lookup and
//! run side by side (`--test-threads`), each with its own VMs.

mod cgroup_v2_attack;
mod limits_v2;
mod smoke;
