//! Cgroups of a container started by an unprivileged user.
//!
//! Such a user can usually not create cgroups (on cgroup v1 never, on v2
//! only below a delegated subtree). As runc does, a rootless container
//! that asks for no resource limits then simply runs in its creator's
//! cgroup; one that asks for limits fails, since they could not be applied.

use oci_spec::runtime::Spec;
use rcr_cgroups::CgroupError;

/// A rootless container asked for resources, and its cgroup cannot be made.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} (linux.resources of a rootless container need a cgroup the user may create: \
     delegate one to the user or remove linux.resources)"
)]
pub struct RootlessCgroupError(pub CgroupError);

/// Whether `spec` asks for resource limits. The device rules are not
/// counted: they only restrict, and without a cgroup the user namespace
/// already keeps the container from creating device nodes.
pub fn wants_resources(spec: &Spec) -> bool {
    let Some(resources) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) else {
        return false;
    };
    let value = serde_json::to_value(resources).expect("resources always serialize");
    value.as_object().is_some_and(|fields| {
        fields.iter().any(|(name, v)| {
            name != "devices"
                && !v.is_null()
                && v.as_array().is_none_or(|a| !a.is_empty())
                && v.as_object().is_none_or(|o| !o.is_empty())
        })
    })
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

    fn spec(resources: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "root": {"path": "rootfs"},
            "linux": {"resources": resources}
        }))
        .unwrap()
    }

    #[test]
    fn resources_that_count() {
        assert!(!wants_resources(&spec(serde_json::json!(null))));
        assert!(!wants_resources(&spec(
            serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]})
        )));
        assert!(!wants_resources(&spec(serde_json::json!({"hugepageLimits": []}))));
        assert!(wants_resources(&spec(serde_json::json!({"pids": {"limit": 10}}))));
        assert!(wants_resources(&spec(serde_json::json!({"memory": {"limit": 1048576}}))));
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
