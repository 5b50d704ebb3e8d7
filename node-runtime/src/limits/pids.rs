//! Task limit (OpenVZ numproc): `pids.max`, the same file on v1 and v2. A spec without one gets
//! [`DEFAULT_PIDS`].
//!
//! A limit under the number of tasks running now is refused: the kernel would accept it and
//! only block new forks, which leaves a container over its limit without saying so.

use std::path::Path;

use fleet_protocol::{DEFAULT_PIDS, Resources};

use super::file;
use super::{Ctx, LimitError, Plan};

pub(crate) fn plan(ctx: &Ctx, res: &Resources, plan: &mut Plan) -> Result<(), LimitError> {
    if res.pids == Some(0) {
        return Err(LimitError::invalid(
            "pids",
            0,
            "the task limit must be at least 1",
        ));
    }
    let Some(dir) = ctx.dir_for(&[("pids", res.pids.is_some())])? else {
        return Ok(());
    };
    // A spec without a ceiling gets the default one (OpenVZ's numproc is never unlimited).
    let max = res.pids.unwrap_or(DEFAULT_PIDS);
    {
        let current = file::read_u64(&dir.join("pids.current"))?;
        if max < current {
            return Err(LimitError::invalid(
                "pids",
                max,
                format!("the container runs {current} tasks now; valid is at least {current}"),
            ));
        }
    }
    plan.replace(dir.join("pids.max"), max.to_string())
}

pub(crate) fn read(dir: &Path) -> Result<Option<u64>, LimitError> {
    file::read_max(&dir.join("pids.max"))
}
