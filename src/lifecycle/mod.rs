//! Key lifecycle: states and cryptoperiods, usage metadata, policy, and
//! the rules that decide whether a key may be used (docs/LIFECYCLE.md).

pub mod vendor;
