//! Prometheus metrics, served as text at `GET /metrics` (config `metrics = true`, the
//! default): requests by route, method and status; bytes in and out; storage errors;
//! garbage collection runs, what they removed and how long they took; uploads in progress.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use crate::gc::GcReport;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The labels of a request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: String,
    status: u16,
}

/// The registry's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    requests: Family<RequestLabels, Counter>,
    bytes_in: Counter,
    bytes_out: Counter,
    storage_errors: Counter,
    gc_runs: Counter,
    gc_blobs: Counter,
    gc_bytes: Counter,
    gc_manifests: Counter,
    gc_links: Counter,
    gc_seconds: Histogram,
    uploads: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh metrics, all zero.
    pub fn new() -> Metrics {
        let mut registry = prometheus_client::registry::Registry::with_prefix("plinth_serve");
        let requests = Family::<RequestLabels, Counter>::default();
        let (bytes_in, bytes_out, storage_errors) = Default::default();
        let (gc_runs, gc_blobs, gc_bytes, gc_manifests, gc_links) = Default::default();
        let gc_seconds = Histogram::new(exponential_buckets(0.001, 4.0, 10));
        let uploads = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "received_bytes",
            "Bytes of request bodies received",
            Counter::clone(&bytes_in),
        );
        registry.register(
            "sent_bytes",
            "Bytes of response bodies sent",
            Counter::clone(&bytes_out),
        );
        registry.register(
            "storage_errors",
            "Requests and collections that failed on a storage error",
            Counter::clone(&storage_errors),
        );
        registry.register(
            "gc_runs",
            "Garbage collections finished",
            Counter::clone(&gc_runs),
        );
        registry.register(
            "gc_removed_blobs",
            "Blobs removed by garbage collection",
            Counter::clone(&gc_blobs),
        );
        registry.register(
            "gc_removed_blob_bytes",
            "Bytes of the blobs removed by garbage collection",
            Counter::clone(&gc_bytes),
        );
        registry.register(
            "gc_removed_manifests",
            "Untagged manifests removed by garbage collection",
            Counter::clone(&gc_manifests),
        );
        registry.register(
            "gc_removed_links",
            "Repositories' links to blobs removed by garbage collection",
            Counter::clone(&gc_links),
        );
        registry.register(
            "gc_duration_seconds",
            "How long garbage collections took",
            gc_seconds.clone(),
        );
        registry.register(
            "uploads_in_progress",
            "Upload requests (POST, PATCH, PUT) being received",
            uploads.clone(),
        );
        Metrics {
            registry,
            requests,
            bytes_in,
            bytes_out,
            storage_errors,
            gc_runs,
            gc_blobs,
            gc_bytes,
            gc_manifests,
            gc_links,
            gc_seconds,
            uploads,
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts an answered request.
    pub fn request(&self, route: &'static str, method: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method: method.to_string(),
                status,
            })
            .inc();
    }

    /// The counter of request body bytes (the HTTP side feeds it as bodies stream in).
    pub fn bytes_in(&self) -> Counter {
        self.bytes_in.clone()
    }

    /// Counts a storage failure.
    pub fn storage_error(&self) {
        self.storage_errors.inc();
    }

    /// Records a finished collection.
    pub fn gc_finished(&self, report: &GcReport) {
        self.gc_runs.inc();
        self.gc_blobs.inc_by(report.blobs.len() as u64);
        self.gc_bytes.inc_by(report.bytes);
        self.gc_manifests.inc_by(report.manifests.len() as u64);
        self.gc_links.inc_by(report.links.len() as u64);
        self.gc_seconds.observe(report.duration.as_secs_f64());
    }

    /// Counts an upload request until the guard is dropped.
    pub fn upload_started(&self) -> UploadGuard {
        self.uploads.inc();
        UploadGuard(self.uploads.clone())
    }

    /// A response body that counts the bytes it sends.
    pub fn counted<B>(&self, body: B) -> Counted<B> {
        Counted {
            inner: body,
            counter: self.bytes_out.clone(),
        }
    }
}

/// Ends an upload request's count when dropped.
#[derive(Debug)]
pub struct UploadGuard(Gauge);

impl Drop for UploadGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A body whose data frames are counted as they go.
#[derive(Debug)]
pub struct Counted<B> {
    inner: B,
    counter: Counter,
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.counter.inc_by(data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_every_metric_with_its_counts() {
        let m = Metrics::new();
        m.request("blob", "GET", 200);
        m.request("blob", "GET", 200);
        m.bytes_in().inc_by(10);
        m.gc_finished(&GcReport {
            bytes: 7,
            ..GcReport::default()
        });
        let _guard = m.upload_started();
        let text = m.encode();
        assert!(
            text.contains(
                "plinth_serve_requests_total{route=\"blob\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("plinth_serve_received_bytes_total 10"),
            "{text}"
        );
        assert!(text.contains("plinth_serve_gc_runs_total 1"), "{text}");
        assert!(
            text.contains("plinth_serve_gc_removed_blob_bytes_total 7"),
            "{text}"
        );
        assert!(
            text.contains("plinth_serve_uploads_in_progress 1"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
