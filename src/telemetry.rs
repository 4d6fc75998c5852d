//! Logs and request correlation: the log format (`--log-format text|json`), the request id
//! every line of a request carries (taken from the client's `x-request-id` when it is sane,
//! made here otherwise, and sent upstream), and W3C trace context passed through to the backend.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use http::{HeaderMap, HeaderName, HeaderValue};

pub mod otel;

/// The request id header, read from clients and sent to backends.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable text (colour only at a terminal).
    #[default]
    Text,
    /// One JSON object per line, with the request's span fields (its id) on every line.
    Json,
}

/// What must live until exit: dropping it exports queued spans, then writes queued lines.
pub struct Logs {
    _traces: Option<otel::Exporter>,
    _lines: tracing_appender::non_blocking::WorkerGuard,
}

/// Install the process's log subscriber. `RUST_LOG` filters as usual; the default shows
/// `rest2mcp` at `info` (audit lines included: target `rest2mcp::audit`). Lines are written by
/// a thread of their own, in batches (`tracing-appender`): a serving thread never waits on a
/// `write` to stderr unless 8k lines are queued. Traces are exported over OTLP when the
/// environment asks for them ([`otel`]). Keep the guard until exit.
pub fn init_logs(format: LogFormat) -> Logs {
    use std::io::IsTerminal as _;
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "rest2mcp=info,rmcp=warn".into());
    // Spans made for traces only are not log context. (A directive rather than a filter
    // function: the filter keeps its level hint, so disabled events cost nothing, their
    // fields included.)
    let filter = filter.add_directive(
        format!("{}=off", otel::TARGET)
            .parse()
            .expect("a valid directive"),
    );
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // 8k lines (~2.5 MB of text) absorb a burst; the default 128k preallocates 4 MB.
        .buffered_lines_limit(8192)
        .thread_name("rest2mcp-log")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stderr(),
        ));
    let fmt = tracing_subscriber::fmt::layer().with_writer(writer);
    let fmt = match format {
        // Colour only for a person at a terminal, never in a file or a pipe.
        LogFormat::Text => fmt
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    };
    let (traces, problem) = match otel::layer() {
        Ok(Some((layer, exporter))) => (Some((layer, exporter)), None),
        Ok(None) => (None, None),
        Err(e) => (None, Some(e)),
    };
    let (layer, exporter) = traces.unzip();
    tracing_subscriber::registry().with(fmt).with(layer).init();
    if let Some(e) = problem {
        tracing::warn!("{e}");
    } else if exporter.is_some() {
        tracing::info!("exporting traces over OTLP/HTTP");
    }
    Logs {
        _traces: exporter,
        _lines: guard,
    }
}

/// Correlation of one MCP request: its id and the caller's W3C trace context.
#[derive(Clone, Debug)]
pub struct Trace {
    pub id: HeaderValue,
    traceparent: Option<HeaderValue>,
    tracestate: Option<HeaderValue>,
    /// The request's span, re-entered by the tasks that serve it (rmcp's among them).
    pub span: tracing::Span,
}

static PREFIX: LazyLock<u32> = LazyLock::new(|| {
    let mut b = [0u8; 4];
    // A different prefix per process keeps ids of replicas apart; zero if the OS has no RNG.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    u32::from_be_bytes(b)
});
static NEXT: AtomicU64 = AtomicU64::new(1);

impl Trace {
    /// The client's `x-request-id` if it is 1 to 128 characters of `[A-Za-z0-9._:-]`, else a
    /// new id; `traceparent` (and `tracestate`) when well formed.
    pub fn from_headers(h: &HeaderMap) -> Trace {
        let id = h
            .get(REQUEST_ID)
            .filter(|v| {
                let b = v.as_bytes();
                (1..=128).contains(&b.len())
                    && b.iter()
                        .all(|c| c.is_ascii_alphanumeric() || b"._:-".contains(c))
            })
            .cloned()
            .unwrap_or_else(new_id);
        let traceparent = h
            .get(TRACEPARENT)
            .filter(|v| valid_traceparent(v.as_bytes()));
        let tracestate = traceparent
            .and(h.get(TRACESTATE))
            .filter(|v| v.len() <= 512);
        Trace {
            id,
            traceparent: traceparent.cloned(),
            tracestate: tracestate.cloned(),
            span: tracing::Span::none(),
        }
    }

    /// The id as text (always ASCII).
    pub fn id(&self) -> &str {
        self.id.to_str().unwrap_or("-")
    }

    /// Add the id and trace context to an upstream request's headers.
    pub fn apply(&self, h: &mut HeaderMap) {
        h.insert(REQUEST_ID, self.id.clone());
        if let Some(tp) = &self.traceparent {
            h.insert(TRACEPARENT, tp.clone());
            if let Some(ts) = &self.tracestate {
                h.insert(TRACESTATE, ts.clone());
            }
        }
    }
}

/// A shared, empty trace for calls outside an HTTP request (tests, tools).
pub fn detached() -> Arc<Trace> {
    Arc::new(Trace {
        id: new_id(),
        traceparent: None,
        tracestate: None,
        span: tracing::Span::none(),
    })
}

fn new_id() -> HeaderValue {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    HeaderValue::from_str(&format!("{:08x}{:012x}", *PREFIX, n)).expect("hex is a valid header")
}

/// `version-traceid-parentid-flags`: 2, 32, 16 and 2 lowercase hex digits; an all-zero trace or
/// parent id is invalid (W3C Trace Context, section 3.2).
fn valid_traceparent(v: &[u8]) -> bool {
    let parts: Vec<&[u8]> = v.split(|b| *b == b'-').collect();
    let hex = |p: &[u8]| {
        p.iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    parts.len() >= 4
        && parts[0].len() == 2
        && parts[0] != b"ff"
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3].len() == 2
        && parts[..4].iter().all(|p| hex(p))
        && parts[1].iter().any(|c| *c != b'0')
        && parts[2].iter().any(|c| *c != b'0')
        && (parts[0] != b"00" || parts.len() == 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_when_sane_and_made_otherwise() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(Trace::from_headers(&h).id(), "abc-123");
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        let made = Trace::from_headers(&h);
        assert_ne!(made.id(), "has space");
        assert_eq!(made.id().len(), 20);
        assert_ne!(Trace::from_headers(&h).id(), made.id());
    }

    #[test]
    fn traceparent_passes_only_when_well_formed() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert!(valid_traceparent(good.as_bytes()));
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert!(!valid_traceparent(bad.as_bytes()), "{bad}");
        }
        let mut h = HeaderMap::new();
        h.insert(TRACEPARENT, HeaderValue::from_static(good));
        h.insert(TRACESTATE, HeaderValue::from_static("vendor=x"));
        let mut out = HeaderMap::new();
        Trace::from_headers(&h).apply(&mut out);
        assert_eq!(out[TRACEPARENT], good);
        assert_eq!(out[TRACESTATE], "vendor=x");
        assert!(out.contains_key(REQUEST_ID));
    }
}
