//! Loading a bundle: `config.json` parsed into the OCI runtime spec and
//! checked for what every platform needs before anything is created.
//!
//! Parse errors name the JSON path of the offending field (see
//! [`crate::json_path`]), so a user sees `process.args` rather than a byte
//! offset alone.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

/// The runtime-spec version rcr implements and reports.
pub const SPEC_VERSION: &str = "1.2.0";

/// The oldest runtime-spec version rcr accepts (it accepts every 1.x).
pub const MIN_SPEC_VERSION: &str = "1.0.0";

/// A bundle whose config parsed and passed the platform-neutral checks.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
    /// `config.json` as JSON, to be recorded as written.
    pub config: serde_json::Value,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
}

/// What is wrong with a bundle.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("bundle {}: {source}", path.display())]
    Bundle { path: PathBuf, source: std::io::Error },
    #[error("read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid {}: {field}: {message}", path.display())]
    Parse { path: PathBuf, field: String, message: String },
    #[error("invalid config: {field}: {message}")]
    Invalid { field: &'static str, message: String },
}

impl SpecError {
    /// A document at `path` that did not deserialize.
    pub(crate) fn parse(path: &Path, e: &crate::json_path::Error) -> Self {
        Self::Parse {
            path: path.to_owned(),
            field: e.path().unwrap_or("(document)").to_owned(),
            message: e.inner().to_string(),
        }
    }

    fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid { field, message: message.into() }
    }
}

/// runtime-spec names that oci-spec 0.10 spells differently (its scheduler
/// flag enum derives the names from the variants), with oci-spec's spelling.
const OCI_SPEC_SPELLINGS: [(&str, &str); 2] = [
    ("SCHED_FLAG_RESET_ON_FORK", "SCHED_RESET_ON_FORK"),
    ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_D_L_OVERRUN"),
];

/// The document with the spec's scheduler flag names respelled for
/// oci-spec, if it uses any; `None` leaves it as it is.
fn respell_scheduler_flags(text: &[u8]) -> Option<Vec<u8>> {
    let mentions = |name: &str| text.windows(name.len()).any(|w| w == name.as_bytes());
    if !OCI_SPEC_SPELLINGS.iter().any(|(spec, _)| mentions(spec)) {
        return None;
    }
    let mut doc: serde_json::Value = serde_json::from_slice(text).ok()?;
    let flags = doc.pointer_mut("/process/scheduler/flags")?.as_array_mut()?;
    for flag in flags {
        if let Some((_, theirs)) = OCI_SPEC_SPELLINGS.iter().find(|(spec, _)| flag == spec) {
            *flag = (*theirs).into();
        }
    }
    serde_json::to_vec(&doc).ok()
}

/// Parses a `config.json` document. `path` is used in messages only.
pub fn parse_config(text: &[u8], path: &Path) -> Result<Spec, SpecError> {
    let respelled = respell_scheduler_flags(text);
    crate::json_path::from_slice(respelled.as_deref().unwrap_or(text))
        .map_err(|e| SpecError::parse(path, &e))
}

/// Loads and checks the bundle at `dir`.
pub fn load_bundle(dir: &Path) -> Result<Bundle, SpecError> {
    let dir = fs::canonicalize(dir)
        .map_err(|source| SpecError::Bundle { path: dir.to_owned(), source })?;
    if !dir.is_dir() {
        return Err(SpecError::Bundle {
            path: dir,
            source: std::io::Error::from_raw_os_error(libc::ENOTDIR),
        });
    }
    let config = dir.join("config.json");
    let text =
        fs::read(&config).map_err(|source| SpecError::Read { path: config.clone(), source })?;
    let spec = parse_config(&text, &config)?;
    validate(&spec)?;
    let root = spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default();
    let rootfs = if root.is_absolute() { root } else { dir.join(root) };
    match fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(SpecError::invalid(
                "root.path",
                format!("{} is not a directory", rootfs.display()),
            ))
        }
        Err(e) => {
            return Err(SpecError::invalid("root.path", format!("{}: {e}", rootfs.display())))
        }
    }
    // Parsed above as a spec, so it is valid JSON.
    let config = serde_json::from_slice(&text).unwrap_or_default();
    Ok(Bundle { dir, spec, rootfs, config })
}

/// Checks the parts of a spec every platform relies on.
pub fn validate(spec: &Spec) -> Result<(), SpecError> {
    check_version(spec.version())?;
    match spec.root() {
        Some(root) if !root.path().as_os_str().is_empty() => {}
        _ => return Err(SpecError::invalid("root.path", "is required")),
    }
    let Some(process) = spec.process() else {
        return Err(SpecError::invalid("process", "is required to create a container"));
    };
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(SpecError::invalid("process.args", "must name the program to run")),
    }
    if !process.cwd().is_absolute() {
        return Err(SpecError::invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    for (i, env) in process.env().iter().flatten().enumerate() {
        if !env.contains('=') || env.starts_with('=') {
            return Err(SpecError::invalid(
                "process.env",
                format!("entry {i} ({env:?}) is not of the form KEY=VALUE"),
            ));
        }
    }
    if let Some(hooks) = spec.hooks() {
        for kind in crate::hooks::HookKind::ALL {
            for hook in kind.of(hooks) {
                if !hook.path().is_absolute() {
                    return Err(SpecError::invalid(
                        "hooks",
                        format!("{} hook path {:?} is not absolute", kind.name(), hook.path()),
                    ));
                }
                if hook.timeout().is_some_and(|t| t <= 0) {
                    return Err(SpecError::invalid(
                        "hooks",
                        format!("{} hook timeout must be positive", kind.name()),
                    ));
                }
            }
        }
    }
    for m in spec.mounts().iter().flatten() {
        if m.destination().as_os_str().is_empty() {
            return Err(SpecError::invalid("mounts", "a mount has an empty destination"));
        }
    }
    Ok(())
}

/// Accepts every 1.x version: engines and test suites write versions newer
/// than the one we implement, and a minor version only adds fields.
fn check_version(v: &str) -> Result<(), SpecError> {
    let major = v.split('.').next().unwrap_or_default();
    let rest_ok = v.split('.').skip(1).all(|p| {
        let num = p.split(['-', '+']).next().unwrap_or_default();
        !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit())
    });
    if major == "1" && rest_ok && v.split('.').count() >= 2 {
        Ok(())
    } else if v.is_empty() {
        Err(SpecError::invalid("ociVersion", "is required"))
    } else {
        Err(SpecError::invalid(
            "ociVersion",
            format!(
                "unsupported version {v:?} (rcr implements {SPEC_VERSION} and accepts any 1.x)"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["/bin/sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        })
    }

    fn parse(v: &serde_json::Value) -> Result<Spec, SpecError> {
        parse_config(v.to_string().as_bytes(), Path::new("config.json"))
    }

    #[test]
    fn versions() {
        for ok in [MIN_SPEC_VERSION, SPEC_VERSION, "1.3.0", "1.0.2-dev", "1.1.0-rc.1"] {
            check_version(ok).unwrap();
        }
        for bad in ["", "2.0.0", "0.9", "1", "a.b", "1..0"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parse_error_names_the_field() {
        let mut v = minimal();
        v["process"]["args"] = serde_json::json!("sh");
        let e = parse(&v).unwrap_err().to_string();
        assert!(e.contains("process.args"), "{e}");
        let e = parse_config(b"{not json", Path::new("c.json")).unwrap_err().to_string();
        assert!(e.starts_with("invalid c.json"), "{e}");
    }

    #[test]
    fn scheduler_flags_use_the_spec_names() {
        let mut v = minimal();
        v["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_DEADLINE",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]});
        let spec = parse(&v).unwrap();
        let flags = spec.process().as_ref().unwrap().scheduler().as_ref().unwrap().flags().clone();
        assert_eq!(
            serde_json::to_value(flags).unwrap(),
            serde_json::json!([
                "SCHED_RESET_ON_FORK",
                "SCHED_FLAG_D_L_OVERRUN",
                "SCHED_FLAG_RECLAIM"
            ])
        );
        v["process"]["scheduler"]["flags"] = serde_json::json!(["SCHED_FLAG_BOGUS"]);
        let e = parse(&v).unwrap_err().to_string();
        assert!(e.contains("process.scheduler.flags[0]"), "{e}");
        assert_eq!(respell_scheduler_flags(minimal().to_string().as_bytes()), None);
    }

    #[test]
    fn validate_reports_field() {
        let spec = parse(&minimal()).unwrap();
        validate(&spec).unwrap();
        let mut v = minimal();
        v["process"]["args"] = serde_json::json!([]);
        let e = validate(&parse(&v).unwrap()).unwrap_err().to_string();
        assert!(e.contains("process.args"), "{e}");
        let mut v = minimal();
        v["process"]["cwd"] = serde_json::json!("relative");
        let e = validate(&parse(&v).unwrap()).unwrap_err().to_string();
        assert!(e.contains("process.cwd"), "{e}");
        let mut v = minimal();
        v["process"]["env"] = serde_json::json!(["NOEQUALS"]);
        assert!(validate(&parse(&v).unwrap()).is_err());
        let mut v = minimal();
        v["ociVersion"] = serde_json::json!("2.0.0");
        let e = validate(&parse(&v).unwrap()).unwrap_err().to_string();
        assert!(e.contains("ociVersion"), "{e}");
    }

    #[test]
    fn load_bundle_checks_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_bundle(&dir.path().join("missing")).unwrap_err().to_string();
        assert!(e.contains("No such file"), "{e}");
        fs::write(dir.path().join("config.json"), minimal().to_string()).unwrap();
        let e = load_bundle(dir.path()).unwrap_err().to_string();
        assert!(e.contains("root.path"), "{e}");
        fs::create_dir(dir.path().join("rootfs")).unwrap();
        let b = load_bundle(dir.path()).unwrap();
        assert!(b.rootfs.ends_with("rootfs") && b.rootfs.is_absolute());
    }
}
