//! The process of an `exec`: either a whole `process.json` or the
//! container's own process with runc's command-line overrides applied.

use oci_spec::runtime::Process;
use serde_json::{json, Value};

use crate::json_path;
use crate::spec::SpecError;

/// runc's `exec` flags that shape the process.
#[derive(Debug, Clone, Default)]
pub struct ExecOverrides {
    /// The program and its arguments.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries added to (or replacing in) the environment.
    pub env: Vec<String>,
    pub cwd: Option<String>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub tty: bool,
    /// Capabilities added to the bounding, effective and permitted sets.
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

fn invalid(field: &'static str, message: impl Into<String>) -> SpecError {
    SpecError::Invalid { field, message: message.into() }
}

fn parse_user(user: &str) -> Result<(u32, Option<u32>), SpecError> {
    let bad = || invalid("--user", format!("{user:?} is not uid[:gid] (numeric ids)"));
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(str::parse).transpose().map_err(|_| bad())?;
    Ok((uid, gid))
}

/// The exec'd process: `base` (the container's process) with `o` applied.
pub fn with_overrides(base: Option<&Process>, o: &ExecOverrides) -> Result<Process, SpecError> {
    let mut p = match base {
        Some(b) => serde_json::to_value(b).expect("a process always serializes"),
        None => json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}),
    };
    if o.args.is_empty() {
        return Err(invalid("args", "exec needs a command (or --process FILE)"));
    }
    p["args"] = json!(o.args);
    p["terminal"] = json!(o.tty);
    // consoleSize belongs to the container's own terminal.
    if let Some(obj) = p.as_object_mut() {
        obj.remove("consoleSize");
    }
    let mut env: Vec<String> = serde_json::from_value(p["env"].take()).unwrap_or_default();
    for kv in &o.env {
        let key = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
        env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
        env.push(kv.clone());
    }
    p["env"] = json!(env);
    if let Some(cwd) = &o.cwd {
        p["cwd"] = json!(cwd);
    }
    if let Some(user) = &o.user {
        let (uid, gid) = parse_user(user)?;
        p["user"]["uid"] = json!(uid);
        if let Some(gid) = gid {
            p["user"]["gid"] = json!(gid);
        }
    }
    if !o.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(o.additional_gids);
    }
    for set in ["bounding", "effective", "permitted"] {
        for cap in &o.caps {
            let list = &mut p["capabilities"][set];
            if !list.is_array() {
                *list = json!([]);
            }
            let arr = list.as_array_mut().expect("made an array above");
            if !arr.iter().any(|c| c == cap.as_str()) {
                arr.push(json!(cap));
            }
        }
    }
    if o.no_new_privs {
        p["noNewPrivileges"] = json!(true);
    }
    if let Some(profile) = &o.apparmor {
        p["apparmorProfile"] = json!(profile);
    }
    if let Some(label) = &o.process_label {
        p["selinuxLabel"] = json!(label);
    }
    from_value(p, "exec process")
}

/// Parses a `process.json` given with `--process`.
pub fn from_file_text(text: &[u8], path: &std::path::Path) -> Result<Process, SpecError> {
    json_path::from_slice(text).map_err(|e| SpecError::parse(path, &e))
}

fn from_value(v: Value, what: &'static str) -> Result<Process, SpecError> {
    // Through text, so that one deserializer serves both `--process` files
    // and this (deserializing the `Value` directly costs another 35 KB of machine code).
    let text = serde_json::to_vec(&v).expect("a JSON value serializes");
    json_path::from_slice(&text).map_err(|e| SpecError::Invalid {
        field: what,
        message: match e.path() {
            Some(at) => format!("{at}: {}", e.message()),
            None => e.message(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Process {
        serde_json::from_value(json!({
            "args": ["sh"], "cwd": "/", "env": ["PATH=/bin", "A=1"], "terminal": true,
            "consoleSize": {"height": 1, "width": 2},
            "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
        }))
        .unwrap()
    }

    #[test]
    fn overrides_apply() {
        let o = ExecOverrides {
            args: vec!["ls".into(), "-l".into()],
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            additional_gids: vec![5],
            caps: vec!["CAP_CHOWN".into(), "CAP_KILL".into()],
            no_new_privs: true,
            ..Default::default()
        };
        let p = with_overrides(Some(&base()), &o).unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &vec!["ls".to_owned(), "-l".to_owned()]);
        assert_eq!(
            p.env().as_ref().unwrap(),
            &vec!["PATH=/bin".to_owned(), "A=2".into(), "B=3".into()]
        );
        assert_eq!(p.cwd().to_str(), Some("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        assert_eq!(p.user().additional_gids().as_ref().unwrap(), &vec![5]);
        assert_eq!(p.terminal(), Some(false));
        assert!(p.console_size().is_none());
        assert_eq!(p.capabilities().as_ref().unwrap().effective().as_ref().unwrap().len(), 2);
        assert_eq!(p.no_new_privileges(), Some(true));
    }

    #[test]
    fn bad_input() {
        let o = ExecOverrides { args: vec![], ..Default::default() };
        assert!(with_overrides(Some(&base()), &o).is_err());
        let o = ExecOverrides {
            args: vec!["x".into()],
            user: Some("bob".into()),
            ..Default::default()
        };
        assert!(with_overrides(Some(&base()), &o).unwrap_err().to_string().contains("--user"));
        let o = ExecOverrides {
            args: vec!["x".into()],
            caps: vec!["CAP_NOPE".into()],
            ..Default::default()
        };
        assert!(with_overrides(Some(&base()), &o).is_err());
        let e = from_file_text(b"{\"args\": 3}", std::path::Path::new("p.json")).unwrap_err();
        assert!(e.to_string().contains("args"), "{e}");
    }
}
