//! The Linux backend of rcr.
//!
//! - [`plan`]: spec to [`plan::LaunchPlan`], pure;
//! - `proto`: the typed parent/init protocol;
//! - `spawn`: the parent side of `create`;
//! - `init`: the container init's step list;
//! - `sys`: the only home of raw syscalls and `unsafe`.

pub mod plan;
