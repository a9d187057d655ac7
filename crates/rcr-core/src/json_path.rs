//! Deserializing JSON documents with errors that name the offending field.
//!
//! [`from_slice`] is `serde_json::from_slice` plus, on failure, the JSON path
//! of what failed (`process.args`, `linux.namespaces[2].type`, `mounts[0]`),
//! in the notation users of runtimes know: object keys joined by `.`, array
//! indices as `[N]`.
//!
//! The path is found after the fact: serde_json reports the line and column
//! where it stopped, and [`path_at`] scans the text up to there, keeping the
//! stack of open objects and arrays with their current key or index. The
//! alternative, wrapping the deserializer so that it records the path as it
//! goes (what `serde_path_to_error` does), gives every spec type a wrapped
//! copy of its whole deserializer, twice the size of the plain one: it cost
//! rcr 240 KB of machine code, much of which ends up resident in every rcr
//! process (issue #7). This scanner is small, not generic, and costs nothing
//! until a document fails; no crate locates a path from a position.
//!
//! Where serde_json stops, and what the path names there:
//! - an error about a value (wrong type, unknown variant, out of range) is
//!   reported right after the value, or at the `{` or `[` of a value of the
//!   wrong type: the value's own key or index;
//! - serde's errors about an object or array as a whole (a missing field, a
//!   wrong length) are reported after its closing bracket: the container;
//!   any other error reported there was raised by a type after it read its
//!   value (oci-spec's `Capability`): the container's last member. When
//!   more elements follow, serde_json has read past the comma: the element
//!   before it;
//! - a duplicate key is reported right after it: the object;
//! - a syntax error between members or elements (a missing comma or colon, a
//!   trailing comma, the end of the text) names the enclosing object or
//!   array, one inside a value names the value;
//! - an error at the top level (trailing characters, a document that is not
//!   an object) has no path: [`Error::path`] is `None`.
//!
//! These rules follow serde_json's `Deserializer` (`from_slice`/`from_str`);
//! the unit tests pin them, and agree with `serde_path_to_error` except that
//! syntax errors in keys name the object instead of `object.?`.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::error::Category;

/// A document that did not deserialize.
#[derive(Debug)]
pub struct Error {
    path: Option<String>,
    inner: serde_json::Error,
}

impl Error {
    /// The path of the offending value, `None` when it is the document itself.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// serde_json's error, whose message ends with the line and column.
    pub fn inner(&self) -> &serde_json::Error {
        &self.inner
    }

    /// serde_json's message without the line and column, for documents the
    /// user did not write as text.
    pub fn message(&self) -> String {
        let full = self.inner.to_string();
        let at = format!(" at line {} column {}", self.inner.line(), self.inner.column());
        match full.strip_suffix(&at) {
            Some(message) => message.to_owned(),
            None => full,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.inner),
            None => write!(f, "{}", self.inner),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// Deserializes `text` as a `T`, naming the path of what failed.
pub fn from_slice<T: DeserializeOwned>(text: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(text).map_err(|inner| Error { path: path_at(text, &inner), inner })
}

/// The path of the value `e`, from deserializing `text`, is about; `None`
/// for the document itself.
pub fn path_at(text: &[u8], e: &serde_json::Error) -> Option<String> {
    let offset = offset_of(text, e)?;
    let cause = match e.classify() {
        // Running out of text is reported at its end.
        Category::Eof => Cause::Syntax { offending: None },
        Category::Data => {
            let message = e.to_string();
            Cause::Data {
                about_container: ["missing field ", "invalid length "]
                    .iter()
                    .any(|m| message.starts_with(m)),
                peeked_container: ["invalid type: map", "invalid type: sequence"]
                    .iter()
                    .any(|m| message.starts_with(m)),
            }
        }
        Category::Syntax | Category::Io => {
            Cause::Syntax { offending: text.get(offset.saturating_sub(1)).copied() }
        }
    };
    // An error about a value is placed just after the last byte serde_json
    // read, a syntax error on the offending byte (columns count from 1).
    let end = match cause {
        Cause::Data { .. } => offset,
        Cause::Syntax { offending: None } => text.len(),
        Cause::Syntax { offending: Some(_) } => offset.saturating_sub(1),
    };
    let (stack, closed) = scan(&text[..end]);
    render(&stack, closed.as_ref(), cause)
}

/// The byte offset of serde_json's line and column.
fn offset_of(text: &[u8], e: &serde_json::Error) -> Option<usize> {
    if e.line() == 0 {
        return None;
    }
    let line_start = if e.line() == 1 {
        0
    } else {
        text.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(e.line() - 2)?.0 + 1
    };
    Some((line_start + e.column()).min(text.len()))
}

/// What kind of error is being located.
#[derive(Debug, Clone, Copy)]
enum Cause {
    /// Not JSON, with the byte serde_json refused (`None`: the text ended).
    Syntax { offending: Option<u8> },
    /// JSON, but not what the type wants.
    Data {
        /// serde's errors about an object or array as a whole.
        about_container: bool,
        /// A wrong type found by looking at `{` or `[` without reading on.
        peeked_container: bool,
    },
}

/// Where the scan is inside one open object or array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// After `{`, `[` or `,`: a key (object) or an element (array) is next.
    Open,
    /// In an object, in or after a key, before its `:`.
    Key,
    /// After `:`, or inside the value.
    Value,
    /// After a complete value, before `,` or the closing bracket.
    Done,
}

#[derive(Debug)]
struct Frame {
    /// The current key, for an object.
    key: Option<String>,
    /// The current index, for an array.
    index: usize,
    at: At,
    /// Whether a member or element has begun.
    filled: bool,
}

impl Frame {
    fn is_object(&self) -> bool {
        self.key.is_some()
    }
}

/// The open objects and arrays at the end of `text`, outermost first, and
/// the one closed last if nothing but whitespace follows it.
fn scan(text: &[u8]) -> (Vec<Frame>, Option<Frame>) {
    let mut stack: Vec<Frame> = Vec::new();
    let mut closed = None;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        i += 1;
        if !b.is_ascii_whitespace() {
            closed = None;
        }
        match b {
            b'{' | b'[' => {
                begin_value(&mut stack);
                let key = (b == b'{').then(String::new);
                stack.push(Frame { key, index: 0, at: At::Open, filled: false });
            }
            b'}' | b']' => {
                closed = stack.pop();
                end_value(&mut stack);
            }
            b',' => {
                if let Some(top) = stack.last_mut() {
                    top.at = At::Open;
                    top.index += 1;
                }
            }
            b':' => begin_value(&mut stack),
            b'"' => {
                let start = i;
                let (terminated, len) = string_end(&text[i..]);
                i += len;
                match stack.last_mut() {
                    Some(top) if top.is_object() && top.at == At::Open => {
                        top.key = Some(unescape(&text[start..i - usize::from(terminated)]));
                        top.at = At::Key;
                        top.filled = true;
                    }
                    _ => {
                        begin_value(&mut stack);
                        if terminated {
                            end_value(&mut stack);
                        }
                    }
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                // A number or a literal. One that runs up to the byte
                // serde_json stopped at is still being parsed if it is not
                // yet a valid token (`tru`, `1.`), else it is complete.
                let start = i - 1;
                while i < text.len() && !b" \t\n\r,:[]{}\"".contains(&text[i]) {
                    i += 1;
                }
                let token = &text[start..i];
                begin_value(&mut stack);
                let complete = if b.is_ascii_alphabetic() {
                    [&b"true"[..], b"false", b"null"].contains(&token)
                } else {
                    token.last().is_some_and(u8::is_ascii_digit)
                };
                if complete || i < text.len() {
                    end_value(&mut stack);
                }
            }
        }
    }
    (stack, closed)
}

fn begin_value(stack: &mut [Frame]) {
    if let Some(top) = stack.last_mut() {
        top.at = At::Value;
        top.filled = true;
    }
}

fn end_value(stack: &mut [Frame]) {
    if let Some(top) = stack.last_mut() {
        top.at = At::Done;
    }
}

/// The length of the string body starting at `text` (after its opening
/// quote) including the closing quote, and whether there is one.
fn string_end(text: &[u8]) -> (bool, usize) {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => return (true, i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    (false, text.len())
}

/// A key as serde sees it: JSON escapes decoded (a key that does not decode
/// cleanly failed to parse, and its path is its object's anyway).
fn unescape(raw: &[u8]) -> String {
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice::<String>(&quoted)
        .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned())
}

/// The path of the stack's innermost value, or of its innermost container
/// when the error is about the syntax between members (see the module doc).
fn render(stack: &[Frame], closed: Option<&Frame>, cause: Cause) -> Option<String> {
    let mut path = String::new();
    let Some((top, outer)) = stack.split_last() else {
        return last_member(&mut path, closed, cause).then_some(path);
    };
    for frame in outer {
        push_segment(&mut path, frame, frame.index);
    }
    match (top.at, cause) {
        (At::Value, _) => push_segment(&mut path, top, top.index),
        (At::Done, Cause::Data { .. }) => {
            push_segment(&mut path, top, top.index);
            last_member(&mut path, closed, cause);
        }
        // A wrong type seen at the `{` or `[` starting an element; any other
        // error placed after a comma is one serde_json ran into when it
        // looked for the end of the array after an element failed.
        (At::Open, Cause::Data { peeked_container, .. }) if !top.is_object() => {
            if peeked_container {
                push_segment(&mut path, top, top.index);
            } else if top.index > 0 {
                push_segment(&mut path, top, top.index - 1);
            }
        }
        // An element after `[` or `,` has begun for serde_json once a byte
        // of it was seen, unless the array ends there.
        (At::Open, Cause::Syntax { offending: Some(b) }) if !top.is_object() && b != b']' => {
            push_segment(&mut path, top, top.index);
        }
        // Keys, and the syntax between members, belong to the container.
        _ => {}
    }
    (!path.is_empty()).then_some(path)
}

/// After a closing bracket, serde's own errors about the container (a
/// missing field, a wrong length) name it; any other error was raised by a
/// type after reading its value, and the container's last member is that
/// value. Returns whether a segment was added.
fn last_member(path: &mut String, closed: Option<&Frame>, cause: Cause) -> bool {
    match (closed, cause) {
        (Some(frame), Cause::Data { about_container: false, .. }) if frame.filled => {
            push_segment(path, frame, frame.index);
            true
        }
        _ => false,
    }
}

fn push_segment(path: &mut String, frame: &Frame, index: usize) {
    match &frame.key {
        Some(key) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
        }
        None => {
            use std::fmt::Write;
            let _ = write!(path, "[{index}]");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use oci_spec::runtime::{LinuxResources, LinuxSeccomp, Process, Spec};
    use serde::Deserialize;

    use super::*;

    fn path_of<T: DeserializeOwned + fmt::Debug>(text: &str) -> Option<String> {
        from_slice::<T>(text.as_bytes()).unwrap_err().path().map(str::to_owned)
    }

    /// The same document compact, pretty-printed and without a trailing
    /// newline must give the same path.
    fn check<T: DeserializeOwned + fmt::Debug>(text: &str, want: Option<&str>) {
        let got = path_of::<T>(text);
        assert_eq!(got.as_deref(), want, "{text}");
        let with_newline = format!("{text}\n");
        assert_eq!(path_of::<T>(&with_newline).as_deref(), want, "{text} + newline");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            assert_eq!(path_of::<T>(&pretty).as_deref(), want, "{pretty}");
        }
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
        #[serde(default)]
        list: Vec<u8>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        items: Vec<Inner>,
        #[serde(default)]
        map: BTreeMap<String, Vec<u32>>,
        #[serde(default)]
        grid: Vec<Vec<u32>>,
    }

    #[test]
    fn wrong_types_name_the_value() {
        check::<Outer>(r#"{"inner": {"n": "x"}}"#, Some("inner.n"));
        check::<Outer>(r#"{"inner": {"n": -1}}"#, Some("inner.n"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": [1, 2, 300]}}"#, Some("inner.list[2]"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": {}}}"#, Some("inner.list"));
        check::<Outer>(
            r#"{"inner": {"n": 1}, "items": [{"n": 1}, {"n": true}]}"#,
            Some("items[1].n"),
        );
        check::<Outer>(r#"{"inner": {"n": 1}, "grid": [[1], [2, null]]}"#, Some("grid[1][1]"));
        check::<Outer>(r#"{"inner": {"n": 1}, "map": {"a": [1], "b": ["x"]}}"#, Some("map.b[0]"));
        check::<Outer>(r#"{"inner": {"n": 1}, "map": {"a": [1], "b": 7}}"#, Some("map.b"));
        check::<Outer>(r#"{"inner": []}"#, Some("inner"));
        check::<Outer>("[1]", Some("[0]"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": [{}]}}"#, Some("inner.list[0]"));
        check::<Outer>("7", None);
    }

    #[test]
    fn strings_with_brackets_and_escapes_are_skipped() {
        let text =
            r#"{"map": {"{[\"],:": [1], "a\\": [2], "\u00e9\n": [3, "x"]}, "inner": {"n": 1}}"#;
        check::<Outer>(text, Some("map.é\n[1]"));
        let text = r#"{"map": {"k": [1]}, "inner": {"n": "\"}]"}}"#;
        check::<Outer>(text, Some("inner.n"));
        check::<Outer>(r#"{"map": {"\ud83d\ude00": ["x"]}, "inner": {"n": 1}}"#, Some("map.😀[0]"));
    }

    #[test]
    fn missing_fields_name_the_object() {
        check::<Outer>(r#"{"inner": {}}"#, Some("inner"));
        check::<Outer>(r#"{"inner": {"list": []}}"#, Some("inner"));
        check::<Outer>(r#"{"inner": {"n": 1}, "items": [{"n": 1}, {}]}"#, Some("items[1]"));
        check::<Outer>("{}", None);
        check::<Outer>(r#"{"items": []}"#, None);
    }

    #[test]
    fn key_problems_name_the_object() {
        // The key is read before the error; a duplicate is refused by the
        // object, which is what the path names (an unknown key too: only
        // `deny_unknown_fields`, which oci-spec does not use, refuses one).
        check::<Outer>(r#"{"inner": {"n": 1}, "bogus": 1}"#, None);
        // Not via `check`: a `Value` keeps only one of the keys.
        assert_eq!(path_of::<Outer>(r#"{"inner": {"n": 1, "n": 2}}"#).as_deref(), Some("inner"));
    }

    #[test]
    fn syntax_errors() {
        // Inside a value: the value.
        check::<Outer>(r#"{"inner": {"n": }}"#, Some("inner.n"));
        check::<Outer>(r#"{"inner": {"n": tru}}"#, Some("inner.n"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": [,]}}"#, Some("inner.list[0]"));
        check::<Outer>(r#"{"inner": {"n": 1}, "map": {"a": ["\q"]}}"#, Some("map.a[0]"));
        // Between members and elements: the container.
        check::<Outer>(r#"{"inner": {"n": 1 "list": []}}"#, Some("inner"));
        check::<Outer>(r#"{"inner": {"n" 1}}"#, Some("inner"));
        check::<Outer>(r#"{"inner": {"n": 1,}}"#, Some("inner"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": [1 2]}}"#, Some("inner.list"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": [1,]}}"#, Some("inner.list"));
        check::<Outer>(r#"{"inner": {"n": 1, 5: 1}}"#, Some("inner"));
        check::<Outer>(r#"{not json"#, None);
        check::<Outer>("", None);
        // Trailing characters belong to the document.
        check::<Outer>(r#"{"inner": {"n": 1}} x"#, None);
        check::<Outer>(r#"{"inner": {"n": 1}}}"#, None);
    }

    #[test]
    fn truncated_documents() {
        check::<Outer>(r#"{"inner": {"n": 1, "list": [1, 2"#, Some("inner.list"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": [1,"#, Some("inner.list"));
        check::<Outer>(r#"{"inner": {"n": 1, "list": ["#, Some("inner.list"));
        check::<Outer>(r#"{"inner": {"n": 1"#, Some("inner"));
        check::<Outer>(r#"{"inner": {"n": "#, Some("inner.n"));
        check::<Outer>(r#"{"inner": {"n": "ab"#, Some("inner.n"));
        check::<Outer>(r#"{"inner": {"#, Some("inner"));
        check::<Outer>(r#"{"inner""#, None);
        check::<Outer>("{", None);
    }

    #[test]
    fn spec_types() {
        let spec = |process: &str| {
            format!(
                r#"{{"ociVersion": "1.2.0", "root": {{"path": "rootfs"}},
                "process": {process},
                "linux": {{"namespaces": [{{"type": "pid"}}, {{"type": "mount"}}]}}}}"#
            )
        };
        let ok = r#"{"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}}"#;
        from_slice::<Spec>(spec(ok).as_bytes()).unwrap();
        check::<Spec>(
            &spec(r#"{"args": "sh", "cwd": "/", "user": {"uid": 0, "gid": 0}}"#),
            Some("process.args"),
        );
        check::<Spec>(
            &spec(r#"{"args": ["sh"], "cwd": "/", "user": {"uid": "root", "gid": 0}}"#),
            Some("process.user.uid"),
        );
        check::<Spec>(
            &spec(r#"{"args": ["sh"], "cwd": "/", "rlimits": [{"hard": 1, "soft": 1}]}"#),
            Some("process.rlimits[0]"),
        );
        check::<Spec>(
            &spec(
                r#"{"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": "x"}]}"#,
            ),
            Some("process.rlimits[0].soft"),
        );
        let bad_ns = spec(ok).replace(r#""mount""#, r#""moon""#);
        check::<Spec>(&bad_ns, Some("linux.namespaces[1].type"));
        check::<Process>(r#"{"args": 3}"#, Some("args"));
        check::<Process>(
            r#"{"args": ["a"], "capabilities": {"bounding": ["CAP_FOO"]}}"#,
            Some("capabilities.bounding[0]"),
        );
        for (caps, at) in [
            (r#"["CAP_FOO"]"#, "[0]"),
            (r#"["CAP_KILL", "CAP_FOO"]"#, "[1]"),
            (r#"["CAP_FOO", "CAP_KILL"]"#, "[0]"),
            (r#"["CAP_KILL", "CAP_FOO", "CAP_KILL"]"#, "[1]"),
        ] {
            let process = format!(
                r#"{{"args": ["a"], "capabilities": {{"bounding": {caps}, "effective": []}}}}"#
            );
            check::<Process>(&process, Some(&format!("capabilities.bounding{at}")));
            let process = format!(r#"{{"args": ["a"], "capabilities": {{"bounding": {caps}}}}}"#);
            check::<Process>(&process, Some(&format!("capabilities.bounding{at}")));
        }
        check::<Process>(
            r#"{"execCPUAffinity": {"initial": "1", "final": "x"}}"#,
            Some("execCPUAffinity.final"),
        );
        check::<Process>(
            r#"{"execCPUAffinity": {"initial": "x", "final": "1"}}"#,
            Some("execCPUAffinity.initial"),
        );
        check::<LinuxResources>(r#"{"memory": {"limit": "1G"}}"#, Some("memory.limit"));
        check::<LinuxSeccomp>(r#"{"defaultAction": "SCMP_ACT_NOPE"}"#, Some("defaultAction"));
        check::<LinuxSeccomp>(
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}"#,
            Some("syscalls[1].args[0].op"),
        );
    }

    #[test]
    fn multi_line_positions() {
        let text = "{\n  \"inner\": {\n    \"n\": 1,\n    \"list\": [\n      1,\n      \"é\"\n    ]\n  }\n}";
        check::<Outer>(text, Some("inner.list[1]"));
    }

    #[test]
    fn messages() {
        let e = from_slice::<Outer>(br#"{"inner": {"n": "x"}}"#).unwrap_err();
        assert_eq!(e.message(), r#"invalid type: string "x", expected u32"#);
        assert_eq!(
            e.to_string(),
            r#"inner.n: invalid type: string "x", expected u32 at line 1 column 19"#
        );
        let e = from_slice::<Outer>(b"7").unwrap_err();
        assert_eq!(e.path(), None);
        assert_eq!(
            e.to_string(),
            "invalid type: integer `7`, expected struct Outer at line 1 column 1"
        );
    }
}
