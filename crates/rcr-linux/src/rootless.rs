//! Cgroups of a container started by an unprivileged user.
//!
//! Such a user can usually not create cgroups (on cgroup v1 never, on v2
//! only below a delegated subtree). As runc does, a rootless container
//! that asks for no resource limits then simply runs in its creator's
//! cgroup; one that asks for limits fails, since they could not be applied.

use rcr_cgroups::{CgroupError, Resources};

/// A rootless container asked for resources, and its cgroup cannot be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} (linux.resources of a rootless container need a cgroup the user may create: \
     delegate one to the user or remove linux.resources)"
)]
pub struct RootlessCgroupError(pub CgroupError);

/// Whether `resources` (as converted for create, unset values dropped) hold
/// any limit. The device rules are not counted: they only restrict, and
/// without a cgroup the user namespace already keeps the container from
/// creating device nodes.
pub fn wants_limits(resources: &Resources) -> bool {
    *resources != Resources { devices: resources.devices.clone(), ..Resources::default() }
}

/// Whether creating the cgroup failed for want of permission.
pub fn is_permission_error(e: &CgroupError) -> bool {
    match e {
        CgroupError::Create { source, .. } | CgroupError::Write { source, .. } => {
            source.kind() == std::io::ErrorKind::PermissionDenied
                || source.raw_os_error() == Some(libc::EROFS)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(spec: serde_json::Value) -> bool {
        let spec: oci_spec::runtime::LinuxResources = serde_json::from_value(spec).unwrap();
        wants_limits(&crate::resources::for_create(Some(&spec)).unwrap())
    }

    #[test]
    fn resources_that_count() {
        assert!(!wants_limits(&crate::resources::for_create(None).unwrap()));
        assert!(!limits(serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})));
        assert!(!limits(serde_json::json!({"memory": {"limit": 0}})), "zero is unset");
        assert!(limits(serde_json::json!({"pids": {"limit": 10}})));
        assert!(limits(serde_json::json!({"memory": {"limit": 1048576}})));
    }

    #[test]
    fn permission_errors() {
        let create = |errno| CgroupError::Create {
            path: "/sys/fs/cgroup/pids/x".into(),
            source: std::io::Error::from_raw_os_error(errno),
        };
        assert!(is_permission_error(&create(libc::EACCES)));
        assert!(is_permission_error(&create(libc::EROFS)));
        assert!(!is_permission_error(&create(libc::ENOSPC)));
    }
}
