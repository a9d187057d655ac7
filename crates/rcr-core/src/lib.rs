//! Platform-neutral parts of rcr: container ids, the on-disk state store, the
//! container status machine and loading/validating a bundle's `config.json`.
//!
//! Nothing here touches namespaces or cgroups; the platform backends do, and
//! return data that this crate persists.

pub mod exec;
pub mod fault;
pub mod hooks;
pub mod id;
pub mod json_path;
pub mod lifecycle;
pub mod platform;
pub mod spec;
pub mod state;
pub mod store;

pub use id::{ContainerId, IdError};
pub use lifecycle::{LifecycleError, Observed, Runtime};
pub use platform::{
    BoxError, CreateOptions, CreateRequest, Event, ExecOptions, ExecRequest, Platform, Progress,
    Unsupported,
};
pub use spec::{load_bundle, Bundle, SpecError};
pub use state::{ContainerState, Liveness, Status, OCI_VERSION};
pub use store::{ContainerDir, Store, StoreError};
