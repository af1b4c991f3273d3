//! Component-Based Servicing (CBS) package formats, in pure Rust.
//!
//! This first slice holds what both the engine and the fixture generator need: assembly identities,
//! the package identity string (`Name~pkt~arch~culture~version`) and the WinSxS key-form names with their
//! hash. The cab/msu/mum readers arrive with the CBS reader issue.

#![forbid(unsafe_code)]
