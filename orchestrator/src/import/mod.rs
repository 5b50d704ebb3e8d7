//! Specs from other systems' configs. Each source has its own module; each reads its files,
//! maps what has an equivalent, names what has none, and returns spec text that loads like any
//! other (the command checks it by loading it).

pub mod openvz;
