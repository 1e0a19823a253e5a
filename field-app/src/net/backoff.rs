//! Delays between connection attempts.

use std::time::Duration;

use rand::Rng;

/// Delays between connection attempts: exponential from `base`, capped at `cap`, with
/// "equal jitter" (a random point in the upper half), so that tablets coming back into
/// coverage together do not reconnect in step.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Default for Backoff {
    /// From half a second up to a minute.
    fn default() -> Self {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(60))
    }
}

impl Backoff {
    /// Delays growing from `base` to at most `cap`.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            attempt: 0,
        }
    }

    /// The longest delay after `attempt` failures: `base * 2^attempt`, at most the cap.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The delay before the next attempt: between half the ceiling and the ceiling.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let ceiling = self.ceiling(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        let half = ceiling / 2;
        half + half.mul_f64(rng.random::<f64>())
    }

    /// A connection succeeded: start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng as _;

    use super::*;

    #[test]
    fn backoff_grows_exponentially_with_jitter_and_stays_under_the_cap() {
        let base = Duration::from_millis(100);
        let cap = Duration::from_secs(10);
        let mut backoff = Backoff::new(base, cap);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut delays = Vec::new();
        for attempt in 0..40 {
            let ceiling = backoff.ceiling(attempt);
            assert_eq!(
                ceiling,
                (base * 2u32.saturating_pow(attempt.min(20))).min(cap)
            );
            let delay = backoff.next_delay(&mut rng);
            assert!(
                delay >= ceiling / 2 && delay <= ceiling,
                "{attempt}: {delay:?}"
            );
            delays.push(delay);
        }
        assert!(delays[0] <= base);
        assert!(delays[39] >= cap / 2, "reaches the cap and stays there");
        let capped = &delays[10..];
        assert!(
            capped.windows(2).any(|w| w[0] != w[1]),
            "jittered: not all capped delays are equal"
        );
        backoff.reset();
        assert!(backoff.next_delay(&mut rng) <= base);
    }
}
