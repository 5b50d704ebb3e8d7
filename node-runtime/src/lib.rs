//! The `fleet-node` runtime library.
