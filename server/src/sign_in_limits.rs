//! Failed office sign-ins, counted per name and per address: after [`MAX_FAILURES`] within
//! [`WINDOW`], further attempts for that name, or from that address, are refused until the
//! oldest failure is a window old. Counting names stops guessing one person's password from
//! many addresses; counting addresses stops trying many names from one.
//!
//! Kept in memory: a restart forgets them, which gives a guesser one more window.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts allowed within [`WINDOW`].
pub const MAX_FAILURES: usize = 10;

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Most names or addresses tracked; beyond, those whose failures are all older than the
/// window are forgotten first, then the oldest.
const MAX_TRACKED: usize = 100_000;

/// Failed sign-ins by name and by address.
#[derive(Debug, Default)]
pub struct SignInLimits {
    by_name: Mutex<Failures<String>>,
    by_addr: Mutex<Failures<IpAddr>>,
}

#[derive(Debug)]
struct Failures<K> {
    map: HashMap<K, VecDeque<Instant>>,
}

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Failures {
            map: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> Failures<K> {
    /// How long until `key` may try again, if it may not now.
    fn wait(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let times = self.map.get_mut(key)?;
        while times
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            times.pop_front();
        }
        if times.is_empty() {
            self.map.remove(key);
            return None;
        }
        (times.len() >= MAX_FAILURES).then(|| WINDOW - now.duration_since(times[0]))
    }

    fn fail(&mut self, key: K, now: Instant) {
        if self.map.len() >= MAX_TRACKED && !self.map.contains_key(&key) {
            self.map.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|t| now.duration_since(*t) < WINDOW)
            });
            if self.map.len() >= MAX_TRACKED {
                let oldest = self
                    .map
                    .iter()
                    .min_by_key(|(_, times)| times.back().copied())
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    self.map.remove(&oldest);
                }
            }
        }
        let times = self.map.entry(key).or_default();
        times.push_back(now);
        if times.len() > MAX_FAILURES {
            times.pop_front();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The name as counted: trimmed, case folded (names are unique regardless of case).
fn key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl SignInLimits {
    /// Whether `name` may try to sign in from `addr` now; if not, the whole seconds to wait.
    pub fn check(&self, name: &str, addr: IpAddr) -> Result<(), u64> {
        self.check_at(name, addr, Instant::now())
    }

    fn check_at(&self, name: &str, addr: IpAddr, now: Instant) -> Result<(), u64> {
        let by_name = lock(&self.by_name).wait(&key(name), now);
        let by_addr = lock(&self.by_addr).wait(&addr, now);
        match by_name.into_iter().chain(by_addr).max() {
            Some(wait) => Err(wait.as_secs().max(1)),
            None => Ok(()),
        }
    }

    /// Counts a failed sign-in of `name` from `addr`.
    pub fn failed(&self, name: &str, addr: IpAddr) {
        self.failed_at(name, addr, Instant::now());
    }

    fn failed_at(&self, name: &str, addr: IpAddr, now: Instant) {
        lock(&self.by_name).fail(key(name), now);
        lock(&self.by_addr).fail(addr, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "192.0.2.1";
    const OTHER: &str = "198.51.100.7";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_eleventh_attempt_within_a_minute_is_refused_until_the_first_is_a_minute_old() {
        let limits = SignInLimits::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES as u64 {
            let at = start + Duration::from_secs(i);
            assert_eq!(limits.check_at("dana", ip(HOME), at), Ok(()), "attempt {i}");
            limits.failed_at("dana", ip(HOME), at);
        }

        let eleventh = start + Duration::from_secs(20);
        assert_eq!(limits.check_at("dana", ip(HOME), eleventh), Err(40));
        // The same name from elsewhere, and in other letters, is refused too; another name
        // from the same address as well.
        assert!(limits.check_at(" DANA", ip(OTHER), eleventh).is_err());
        assert!(limits.check_at("theo", ip(HOME), eleventh).is_err());
        // Another name from another address is not.
        assert_eq!(limits.check_at("theo", ip(OTHER), eleventh), Ok(()));
        // Once the first failure is a minute old, one more attempt is allowed.
        assert_eq!(
            limits.check_at("dana", ip(HOME), start + Duration::from_secs(60)),
            Ok(())
        );
    }

    #[test]
    fn the_tracked_names_are_bounded() {
        let mut failures = Failures::<u32>::default();
        let now = Instant::now();
        for key in 0..(MAX_TRACKED as u32 + 10) {
            failures.fail(key, now);
        }
        assert!(failures.map.len() <= MAX_TRACKED);
    }
}
