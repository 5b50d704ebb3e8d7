//! One module per subcommand: its arguments and what it does. Shared argument groups live here.

pub mod apply;
pub mod bootstrap;
pub mod capacity;
pub mod destroy;
pub mod exec;
pub mod get;
pub mod plan;
pub mod render;
pub mod status;
pub mod validate;

use std::path::PathBuf;

use clap::Args;

use crate::model::Fleet;
use crate::resolve::{self, LoadError};

/// The embedded demo fleet used when no `-f` is given: one local host, a few busybox containers.
pub const DEMO_SPEC: &str = include_str!("../../../specs/local-demo.yaml");

/// `-f` spec paths, shared by every command that reads a fleet.
#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Spec file or directory (its *.yaml and *.yml in sorted order); repeat for several.
    /// Without it, the embedded local demo fleet is used.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub files: Vec<PathBuf>,
}

impl SpecArgs {
    /// Loads and resolves the named files, or the embedded demo.
    pub fn load(&self) -> Result<Fleet, LoadError> {
        if self.files.is_empty() {
            resolve::load_str("<embedded>/specs/local-demo.yaml", DEMO_SPEC)
        } else {
            resolve::load(&self.files)
        }
    }
}

/// Machine or human output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// YAML.
    Yaml,
    /// JSON.
    Json,
}
