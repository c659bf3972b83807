//! `regex` as oci-spec uses it, served by regex-lite (see Cargo.toml).
pub use regex_lite::*;
