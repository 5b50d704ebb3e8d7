//! Beancounters of the node's containers, for `fleet-node counters [NAME]`.

use super::ContainerCounters;
use crate::container::Runtime;
use crate::error::{Error, Result};
use crate::limits::runtime::limit_error;
use crate::store::validate_name;

impl Runtime {
    /// Counters of container `name`, or of every container on the node (sorted by name).
    pub fn counters(&self, name: Option<&str>) -> Result<Vec<ContainerCounters>> {
        let names = match name {
            Some(n) => {
                validate_name(n)?;
                if !self.store.layout(n).config.exists() {
                    return Err(Error::NotFound(n.to_owned()));
                }
                vec![n.to_owned()]
            }
            None => self.store.names()?,
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let cgroup = self.cgroup(&name);
            if !cgroup.exists() {
                out.push(ContainerCounters {
                    name,
                    counters: Vec::new(),
                });
                continue;
            }
            let mount = self.mounted_disk(&name).map(|d| d.mount);
            let counters =
                super::read(&name, &cgroup, mount.as_deref()).map_err(|e| limit_error(&name, e))?;
            out.push(counters);
        }
        Ok(out)
    }
}
