//! The container process's capabilities, installed around the switch to
//! the container user in three moves:
//!
//! 1. [`limit`], while the init still holds all its capabilities: decide what
//!    can be granted, cut the bounding set (dropping needs `CAP_SETPCAP`)
//!    and set `PR_SET_KEEPCAPS`, so that setresuid(2) to a non-root user
//!    keeps the permitted set instead of clearing it;
//! 2. the user switch (`process::identity`), which clears the effective set
//!    of a non-root user;
//! 3. [`install`]: clear KEEPCAPS, set effective, permitted and inheritable
//!    with one capset(2), then raise the ambient set, which the kernel only
//!    allows for capabilities both permitted and inheritable.
//!
//! runtime-spec asks for a warning, not a failure, for capabilities that
//! cannot be granted: unknown to the running kernel (newer than its
//! `cap_last_cap`), not held by the runtime itself, or impossible given the
//! other sets (effective outside permitted, inheritable outside bounding,
//! ambient outside permitted and inheritable). Those are left out with one
//! warning per set and reason.
//!
//! No securebits are set (as runc): the exec that follows applies the
//! kernel's root rule, so a root process ends up with the bounding and
//! inheritable sets as permitted and effective, while a non-root one keeps
//! only its ambient set.

use super::InitResult;
use crate::plan::{capability_names, CapabilitySets};
use crate::proto::InitError;
use crate::sys;

/// What the init itself may hand out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Held {
    known: u64,
    bounding: u64,
    permitted: u64,
    inheritable: u64,
}

/// Narrows `want` to what can be granted, with the warnings to log.
fn grantable(want: &CapabilitySets, held: Held) -> (CapabilitySets, Vec<String>) {
    let mut warnings = Vec::new();
    let mut cut = |set: &str, mask: u64, allowed: u64, why: &str| {
        let lost = mask & !allowed;
        if lost != 0 {
            let names = capability_names(lost).join(", ");
            warnings.push(format!("process.capabilities.{set}: ignoring {names}: {why}"));
        }
        mask & allowed
    };
    let mut got = *want;
    for (set, mask) in got.each_mut() {
        *mask = cut(set, *mask, held.known, "unknown to the running kernel");
        let own = match set {
            "bounding" => held.bounding,
            "inheritable" => held.permitted | held.inheritable,
            _ => held.permitted,
        };
        *mask = cut(set, *mask, own, "not held by the runtime");
    }
    got.effective = cut("effective", got.effective, got.permitted, "not in the permitted set");
    got.inheritable = cut(
        "inheritable",
        got.inheritable,
        got.bounding | held.inheritable,
        "not in the bounding set",
    );
    got.ambient = cut(
        "ambient",
        got.ambient,
        got.permitted & got.inheritable,
        "not in both the permitted and the inheritable set",
    );
    (got, warnings)
}

/// Step 1: decides what is granted, cuts the bounding set and keeps the
/// permitted set across the coming user switch.
pub fn limit(want: &CapabilitySets, warn: &dyn Fn(String)) -> InitResult<CapabilitySets> {
    let now = sys::capget().map_err(|e| InitError::errno("read capabilities", e))?;
    let known = sys::kernel_caps();
    let bounding = (0..64u32)
        .filter(|&n| known & 1 << n != 0 && sys::capbset_read(n).unwrap_or(false))
        .fold(0, |m, n| m | 1 << n);
    let held = Held { known, bounding, permitted: now.permitted, inheritable: now.inheritable };
    let (granted, warnings) = grantable(want, held);
    warnings.into_iter().for_each(warn);
    for n in (0..64u32).filter(|&n| bounding & !granted.bounding & 1 << n != 0) {
        sys::capbset_drop(n).map_err(|e| {
            InitError::errno(
                format!("drop {} from the bounding set", capability_names(1 << n)[0]),
                e,
            )
        })?;
    }
    nix::sys::prctl::set_keepcaps(true).map_err(|e| InitError::errno("set keepcaps", e))?;
    Ok(granted)
}

/// Step 3: installs the granted sets on the container user.
pub fn install(granted: &CapabilitySets, warn: &dyn Fn(String)) -> InitResult<()> {
    nix::sys::prctl::set_keepcaps(false).map_err(|e| InitError::errno("clear keepcaps", e))?;
    let state = sys::CapState {
        effective: granted.effective,
        permitted: granted.permitted,
        inheritable: granted.inheritable,
    };
    sys::capset(&state).map_err(|e| InitError::errno("set capabilities", e))?;
    sys::ambient_clear().map_err(|e| InitError::errno("clear ambient capabilities", e))?;
    for n in (0..64u32).filter(|&n| granted.ambient & 1 << n != 0) {
        // As runc: a refused ambient capability is a warning, never fatal.
        if let Err(e) = sys::ambient_raise(n) {
            warn(format!(
                "cannot raise ambient capability {}: {}",
                capability_names(1 << n)[0],
                crate::proto::errno_text(e)
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KILL: u64 = 1 << 5;
    const NET_BIND: u64 = 1 << 10;
    const SYS_ADMIN: u64 = 1 << 21;
    const CHECKPOINT: u64 = 1 << 40;
    const ALL_40: u64 = (1 << 41) - 1;

    fn full() -> Held {
        Held { known: ALL_40, bounding: ALL_40, permitted: ALL_40, inheritable: 0 }
    }

    fn same(mask: u64) -> CapabilitySets {
        CapabilitySets {
            bounding: mask,
            effective: mask,
            permitted: mask,
            inheritable: mask,
            ambient: mask,
        }
    }

    #[test]
    fn everything_is_granted_to_a_full_runtime() {
        let want = same(KILL | NET_BIND | CHECKPOINT);
        assert_eq!(grantable(&want, full()), (want, vec![]));
        assert_eq!(
            grantable(&CapabilitySets::default(), full()),
            (CapabilitySets::default(), vec![])
        );
    }

    #[test]
    fn capabilities_newer_than_the_kernel_are_skipped_with_a_warning() {
        let old_kernel = Held { known: (1 << 40) - 1, ..full() };
        let (got, warnings) = grantable(&same(KILL | CHECKPOINT), old_kernel);
        assert_eq!(got, same(KILL));
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        assert_eq!(
            warnings[0],
            "process.capabilities.bounding: ignoring CAP_CHECKPOINT_RESTORE: unknown to the running kernel"
        );
    }

    #[test]
    fn capabilities_the_runtime_lacks_are_skipped_with_a_warning() {
        let restricted =
            Held { bounding: ALL_40 & !SYS_ADMIN, permitted: ALL_40 & !SYS_ADMIN, ..full() };
        let (got, warnings) = grantable(&same(KILL | SYS_ADMIN), restricted);
        assert_eq!(got, same(KILL));
        assert!(warnings
            .iter()
            .all(|w| w.ends_with("ignoring CAP_SYS_ADMIN: not held by the runtime")));
    }

    #[test]
    fn impossible_combinations_are_narrowed() {
        let want = CapabilitySets {
            bounding: KILL,
            effective: KILL | NET_BIND,
            permitted: KILL,
            inheritable: KILL | NET_BIND,
            ambient: KILL | NET_BIND | SYS_ADMIN,
        };
        let (got, warnings) = grantable(&want, full());
        assert_eq!(got, CapabilitySets { ambient: KILL, ..same(KILL) });
        assert_eq!(
            warnings,
            [
                "process.capabilities.effective: ignoring CAP_NET_BIND_SERVICE: not in the permitted set",
                "process.capabilities.inheritable: ignoring CAP_NET_BIND_SERVICE: not in the bounding set",
                "process.capabilities.ambient: ignoring CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN: not in both \
                 the permitted and the inheritable set",
            ]
        );
        // An inheritable capability the runtime already has may stay.
        let (got, _) = grantable(&want, Held { inheritable: NET_BIND, ..full() });
        assert_eq!(got.inheritable, KILL | NET_BIND);
    }
}
