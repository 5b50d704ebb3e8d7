//! list: every container of this node, sorted by name.

use fleet_protocol::{ContainerState, ContainerStatus};

use super::Runtime;
use crate::error::{Error, Result};

impl Runtime {
    /// Status of every container. A container whose status cannot be read is reported broken
    /// rather than hiding the others.
    pub fn list(&self) -> Result<Vec<ContainerStatus>> {
        let mut out = Vec::new();
        for name in self.store.names()? {
            match self.status(&name) {
                Ok(s) => out.push(s),
                Err(Error::NotFound(_)) => {}
                Err(_) => {
                    if let Ok(Some(spec)) = self.store.read_config(&name) {
                        out.push(ContainerStatus {
                            name: name.clone(),
                            fleet: spec.fleet.clone(),
                            state: ContainerState::Broken,
                            init_pid: None,
                            spec,
                            live: Default::default(),
                            usage: None,
                            restarts: 0,
                            last_exit: None,
                            moving_to: None,
                            moving_live: false,
                        });
                    }
                }
            }
        }
        Ok(out)
    }
}
