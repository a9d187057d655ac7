//! Logging as runc does it, so engines read it the same way: with `--log`
//! records go to that file (text, or with `--log-format json` one JSON object
//! per line: `level`, `msg`, `time`); without it, warnings go to stderr.
//! Errors are logged once, by `main`, as the last record.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where records go.
enum Sink {
    File(Mutex<File>),
    Stderr,
}

struct RuncLayer {
    sink: Sink,
    format: LogFormat,
    max: Level,
}

#[derive(Default)]
struct Fields {
    msg: String,
    extra: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.msg, "{value:?}");
        } else {
            self.extra.push((field.name().to_owned(), format!("{value:?}")));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg.push_str(value);
        } else {
            self.extra.push((field.name().to_owned(), value.to_owned()));
        }
    }
}

fn level_name(l: &Level) -> &'static str {
    match *l {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

impl<S: Subscriber> Layer<S> for RuncLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = event.metadata().level();
        if *level > self.max {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
        let line = match self.format {
            LogFormat::Json => {
                let mut obj = serde_json::Map::new();
                obj.insert("level".into(), level_name(level).into());
                obj.insert("msg".into(), f.msg.into());
                obj.insert("time".into(), time.into());
                for (k, v) in f.extra {
                    obj.insert(k, v.into());
                }
                serde_json::Value::Object(obj).to_string()
            }
            LogFormat::Text => {
                let mut s = format!("time=\"{time}\" level={} msg={:?}", level_name(level), f.msg);
                for (k, v) in f.extra {
                    let _ = write!(s, " {k}={v:?}");
                }
                s
            }
        };
        match &self.sink {
            Sink::File(file) => {
                if let Ok(mut file) = file.lock() {
                    let _ = writeln!(file, "{line}");
                }
            }
            Sink::Stderr => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }
}

/// Installs the subscriber. Returns whether records go to a log file (then
/// `main` also logs its error there).
pub fn init(
    log: Option<&std::path::Path>,
    format: LogFormat,
    debug: bool,
) -> std::io::Result<bool> {
    let (sink, to_file) = match log {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            (Sink::File(Mutex::new(file)), true)
        }
        None => (Sink::Stderr, false),
    };
    let max = match (debug, to_file) {
        (true, _) => Level::DEBUG,
        (false, true) => Level::INFO,
        // Without a log file stderr carries warnings only: the error itself
        // is printed by main as one plain line.
        (false, false) => Level::WARN,
    };
    let layer = RuncLayer { sink, format, max };
    // Declared as a filter too, so `tracing::enabled!` (and the init, which
    // checks it before sending a record) knows what is wanted.
    let filter = tracing_subscriber::filter::LevelFilter::from_level(max);
    let _ = tracing_subscriber::registry().with(layer.with_filter(filter)).try_init();
    Ok(to_file)
}
