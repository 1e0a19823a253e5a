//! Prometheus metrics: a handful of counters and histograms kept in atomics and written in the
//! Prometheus text format at `GET /metrics`. Small enough not to need a metrics framework.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Upper bounds of the commit latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [
    0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];
/// Upper bounds of the commit batch size histogram, in changes.
const SIZE_BUCKETS: [f64; 7] = [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0];

#[derive(Debug)]
struct Histogram<const N: usize> {
    bounds: [f64; N],
    counts: [AtomicU64; N],
    count: AtomicU64,
    /// Sum in millionths, to stay in integers.
    sum_micro: AtomicU64,
}

impl<const N: usize> Histogram<N> {
    fn new(bounds: [f64; N]) -> Self {
        Histogram {
            bounds,
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micro: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            if value <= *bound {
                count.fetch_add(1, Relaxed);
            }
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micro.fetch_add((value * 1e6) as u64, Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                count.load(Relaxed)
            );
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micro.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    connections: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    deferred: AtomicU64,
    commit_size: Histogram<7>,
    commit_latency: Histogram<10>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            connections: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            deferred: AtomicU64::new(0),
            commit_size: Histogram::new(SIZE_BUCKETS),
            commit_latency: Histogram::new(LATENCY_BUCKETS),
        }
    }
}

impl Metrics {
    /// A sync connection opened.
    pub fn connected(&self) {
        self.connections.fetch_add(1, Relaxed);
    }

    /// A sync connection closed.
    pub fn disconnected(&self) {
        self.connections.fetch_sub(1, Relaxed);
    }

    /// A group commit stored `changes` changes in `seconds`.
    pub fn committed(&self, changes: usize, seconds: f64) {
        self.commit_size.observe(changes as f64);
        self.commit_latency.observe(seconds);
    }

    /// Outcomes of pushed changes.
    pub fn outcomes(&self, accepted: usize, refused: usize, deferred: usize) {
        self.accepted.fetch_add(accepted as u64, Relaxed);
        self.refused.fetch_add(refused as u64, Relaxed);
        self.deferred.fetch_add(deferred as u64, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "fieldsync_connections",
            "Open sync connections.",
            "gauge",
            self.connections.load(Relaxed),
        );
        gauge(
            &mut out,
            "fieldsync_changes_accepted_total",
            "Pushed changes stored.",
            "counter",
            self.accepted.load(Relaxed),
        );
        gauge(
            &mut out,
            "fieldsync_changes_refused_total",
            "Pushed changes refused and quarantined.",
            "counter",
            self.refused.load(Relaxed),
        );
        gauge(
            &mut out,
            "fieldsync_changes_deferred_total",
            "Pushed changes deferred for missing dependencies.",
            "counter",
            self.deferred.load(Relaxed),
        );
        self.commit_size.write(
            &mut out,
            "fieldsync_commit_batch_changes",
            "Changes per group commit.",
        );
        self.commit_latency.write(
            &mut out,
            "fieldsync_commit_seconds",
            "Duration of a group commit.",
        );
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
        assert!(text.contains("fieldsync_commit_batch_changes_bucket{le=\"16\"} 1\n"));
        assert!(text.contains("fieldsync_commit_batch_changes_count 1\n"));
    }
}
