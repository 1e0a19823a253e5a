//! Prometheus metrics, kept and written by `prometheus-client` (the Prometheus project's Rust
//! client) in the OpenMetrics text format at `GET /metrics`: open sync connections, pushed
//! changes by outcome, and the size and duration of group commits.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The media type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the commit latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [
    0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];
/// Upper bounds of the commit batch size histogram, in changes.
const SIZE_BUCKETS: [f64; 7] = [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0];

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    connections: Gauge,
    accepted: Counter,
    refused: Counter,
    deferred: Counter,
    commit_size: Histogram,
    commit_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let connections = Gauge::default();
        registry.register(
            "fieldsync_connections",
            "Open sync connections",
            connections.clone(),
        );
        let [accepted, refused, deferred] = [(); 3].map(|()| Counter::default());
        registry.register(
            "fieldsync_changes_accepted",
            "Pushed changes stored",
            accepted.clone(),
        );
        registry.register(
            "fieldsync_changes_refused",
            "Pushed changes refused and quarantined",
            refused.clone(),
        );
        registry.register(
            "fieldsync_changes_deferred",
            "Pushed changes deferred for missing dependencies",
            deferred.clone(),
        );
        let commit_size = Histogram::new(SIZE_BUCKETS);
        registry.register(
            "fieldsync_commit_batch_changes",
            "Changes per group commit",
            commit_size.clone(),
        );
        let commit_latency = Histogram::new(LATENCY_BUCKETS);
        registry.register(
            "fieldsync_commit_seconds",
            "Duration of a group commit",
            commit_latency.clone(),
        );
        Metrics {
            registry,
            connections,
            accepted,
            refused,
            deferred,
            commit_size,
            commit_latency,
        }
    }
}

impl Metrics {
    /// A sync connection opened.
    pub fn connected(&self) {
        self.connections.inc();
    }

    /// A sync connection closed.
    pub fn disconnected(&self) {
        self.connections.dec();
    }

    /// A group commit stored `changes` changes in `seconds`.
    pub fn committed(&self, changes: usize, seconds: f64) {
        self.commit_size.observe(changes as f64);
        self.commit_latency.observe(seconds);
    }

    /// Outcomes of pushed changes.
    pub fn outcomes(&self, accepted: usize, refused: usize, deferred: usize) {
        self.accepted.inc_by(accepted as u64);
        self.refused.inc_by(refused as u64);
        self.deferred.inc_by(deferred as u64);
    }

    /// The OpenMetrics text exposition ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histograms() {
        let metrics = Metrics::default();
        metrics.connected();
        metrics.outcomes(5, 1, 0);
        metrics.committed(6, 0.003);
        let text = metrics.render();
        assert!(text.contains("fieldsync_connections 1\n"), "{text}");
        assert!(text.contains("fieldsync_changes_accepted_total 5\n"));
        assert!(text.contains("fieldsync_changes_refused_total 1\n"));
        assert!(text.contains("fieldsync_commit_seconds_bucket{le=\"0.002\"} 0\n"));
        assert!(text.contains("fieldsync_commit_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("fieldsync_commit_batch_changes_bucket{le=\"16.0\"} 1\n"));
        assert!(text.contains("fieldsync_commit_batch_changes_count 1\n"));
        assert!(text.ends_with("# EOF\n"), "a complete exposition");
    }
}
