//! Linux security modules: AppArmor profiles and SELinux labels.
//!
//! Like runc: an AppArmor profile on a host without AppArmor is an error (the
//! user asked for confinement that cannot be had), while SELinux labels on a
//! host without SELinux are ignored with a warning (images and engines set
//! them unconditionally).

use std::path::Path;

use crate::plan::LsmPlan;
use crate::proto::InitError;

/// An LSM setting this host cannot honour.
#[derive(Debug, thiserror::Error)]
pub enum LsmError {
    #[error(
        "invalid config: process.apparmorProfile: apparmor is not enabled on this host \
         (remove the profile or enable apparmor)"
    )]
    AppArmorDisabled,
}

/// Whether AppArmor is enabled on the host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled on the host.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Checks the plan's labels against the host, in the parent.
pub fn check(plan: &LsmPlan) -> Result<(), LsmError> {
    if plan.apparmor_profile.is_some() && !apparmor_enabled() {
        return Err(LsmError::AppArmorDisabled);
    }
    if !selinux_enabled() {
        if plan.selinux_label.is_some() {
            tracing::warn!("selinux is not enabled on this host: ignoring process.selinuxLabel");
        }
        if plan.mount_label.is_some() {
            tracing::warn!("selinux is not enabled on this host: ignoring linux.mountLabel");
        }
    }
    Ok(())
}

/// What to write where so the next execve runs under the plan's labels.
pub fn exec_attrs(plan: &LsmPlan) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(profile) = &plan.apparmor_profile {
        // Kernels with LSM stacking have a per-module directory.
        let path = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        out.push((path, format!("exec {profile}")));
    }
    if let Some(label) = plan.selinux_label.as_ref().filter(|_| selinux_enabled()) {
        out.push(("/proc/self/attr/exec", label.clone()));
    }
    out
}

/// Applies the labels for the coming execve (in the init, after pivot_root).
pub fn apply(plan: &LsmPlan) -> Result<(), InitError> {
    for (path, value) in exec_attrs(plan) {
        std::fs::write(path, value.as_bytes())
            .map_err(|e| InitError::io(format!("set exec label via {path}"), &e))?;
    }
    Ok(())
}

/// The mount data option carrying the SELinux mount label, if any applies.
pub fn mount_context(plan: &LsmPlan) -> Option<String> {
    plan.mount_label.as_ref().filter(|_| selinux_enabled()).map(|l| format!("context=\"{l}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apparmor_without_apparmor_is_refused() {
        let plan = LsmPlan { apparmor_profile: Some("p".into()), ..Default::default() };
        if apparmor_enabled() {
            check(&plan).unwrap();
            assert!(exec_attrs(&plan)[0].1 == "exec p");
        } else {
            let e = check(&plan).unwrap_err().to_string();
            assert!(e.contains("process.apparmorProfile"), "{e}");
        }
    }

    #[test]
    fn selinux_labels_are_ignored_without_selinux() {
        let plan = LsmPlan {
            selinux_label: Some("system_u:system_r:container_t:s0".into()),
            ..Default::default()
        };
        check(&plan).unwrap();
        if !selinux_enabled() {
            assert!(exec_attrs(&plan).is_empty());
            assert!(mount_context(&LsmPlan {
                mount_label: Some("x".into()),
                ..Default::default()
            })
            .is_none());
        }
    }
}
