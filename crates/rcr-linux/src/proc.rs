//! Reading process facts from /proc: the identity of a process (pid plus
//! start time) and whether it is still alive.

use std::fs;
use std::io;

use nix::unistd::Pid;

/// What /proc/PID/stat says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The one-letter state (R, S, D, Z, T, ...).
    pub state: char,
    /// Start time in clock ticks after boot.
    pub start_time: u64,
}

/// Parses the text of /proc/PID/stat. The command name may hold spaces and
/// parentheses, so fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // After the state (field 3), start time is field 22: 19 more on.
    let start_time = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// Reads /proc/PID/stat.
pub fn stat(pid: Pid) -> io::Result<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed /proc stat"))
}

/// Whether `pid` is alive, not a zombie, and still the process that started
/// at `start_time`.
pub fn is_same_live_process(pid: Pid, start_time: u64) -> bool {
    matches!(stat(pid), Ok(s) if s.start_time == start_time && s.state != 'Z' && s.state != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_names() {
        let line =
            "1234 (a (b) c) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 200";
        let s = parse_stat(line).unwrap();
        assert_eq!(s, ProcStat { state: 'S', start_time: 98765 });
        assert!(parse_stat("garbage").is_none());
    }

    #[test]
    fn own_process_is_alive() {
        let me = Pid::this();
        let s = stat(me).unwrap();
        assert!(is_same_live_process(me, s.start_time));
        assert!(!is_same_live_process(me, s.start_time + 1));
    }
}
