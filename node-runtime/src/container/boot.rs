//! boot: start every container marked onboot whose spec says running (what a host runs at boot).

use fleet_protocol::DesiredState;

use super::Runtime;
use crate::error::{Error, Result};

impl Runtime {
    /// Starts the onboot containers; one result per container considered, in name order.
    pub fn boot(&self) -> Result<Vec<(String, Result<bool>)>> {
        let mut results = Vec::new();
        for name in self.store.names()? {
            let spec = match self.store.read_config(&name) {
                Ok(Some(spec)) => spec,
                Ok(None) => continue,
                Err(e) => {
                    results.push((name, Err(e)));
                    continue;
                }
            };
            if !spec.onboot || spec.state != DesiredState::Running {
                continue;
            }
            let result = self.start(&name).map_err(|e| match e {
                Error::NotFound(_) => Error::NotFound(name.clone()),
                other => other,
            });
            results.push((name, result));
        }
        Ok(results)
    }
}
