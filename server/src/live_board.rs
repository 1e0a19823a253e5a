//! The dispatch board's live refreshes, shared. Every open board refetches itself when the
//! server announces commits, and a busy company commits many times a second: twenty
//! dispatchers on a day of 2,500 jobs would have the server build twenty boards a second
//! (each reads, names and draws every job of the day). A live refresh names the latest commit
//! its page was told of; it is answered with the board region of that day drawn after that
//! commit, drawn at most once every [`EVERY`] and shared by every dispatcher who asks
//! meanwhile. A page never gets a board older than the change that made it refresh.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::NaiveDate;
use tokio::time::Instant;

/// Most one board region drawn per day in this time.
pub const EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A drawn board region: when it was started, after which commit, and its HTML.
struct Drawn {
    at: Instant,
    seq: u64,
    html: Arc<str>,
}

/// The latest board region drawn for each day being watched.
#[derive(Default)]
pub struct LiveBoards {
    days: Mutex<HashMap<NaiveDate, Arc<tokio::sync::Mutex<Option<Drawn>>>>>,
}

impl std::fmt::Debug for LiveBoards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveBoards").finish_non_exhaustive()
    }
}

impl LiveBoards {
    /// The board region of `day` drawn after commit `seen`: the one drawn last when it is that
    /// recent; otherwise a new one by `draw`, once [`EVERY`] has passed since the last was
    /// started (those who ask meanwhile wait for it). `latest` is the latest commit now.
    pub async fn region<E, Fut>(
        &self,
        day: NaiveDate,
        seen: u64,
        latest: impl FnOnce() -> u64,
        draw: impl FnOnce() -> Fut,
    ) -> Result<Arc<str>, E>
    where
        Fut: Future<Output = Result<String, E>>,
    {
        let slot = {
            let mut days = self.days.lock().unwrap_or_else(|p| p.into_inner());
            // Days nobody watched for a while are forgotten.
            days.retain(|d, slot| {
                *d == day
                    || Arc::strong_count(slot) > 1
                    || slot
                        .try_lock()
                        .is_ok_and(|s| s.as_ref().is_some_and(|d| d.at.elapsed() < EVERY * 60))
            });
            Arc::clone(days.entry(day).or_default())
        };
        let mut drawn = slot.lock().await;
        if let Some(last) = drawn.as_ref() {
            if last.seq >= seen {
                return Ok(Arc::clone(&last.html));
            }
            tokio::time::sleep_until(last.at + EVERY).await;
        }
        let at = Instant::now();
        // Read before drawing: the board drawn holds at least this commit.
        let seq = latest();
        let html: Arc<str> = draw().await?.into();
        *drawn = Some(Drawn {
            at,
            seq,
            html: Arc::clone(&html),
        });
        Ok(html)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_board_is_drawn_after_the_commit_asked_for_and_at_most_once_a_second() {
        let boards = Arc::new(LiveBoards::default());
        let day = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let draws = Arc::new(AtomicU64::new(0));
        let latest = Arc::new(AtomicU64::new(10));
        let ask = |seen: u64| {
            let (boards, draws, latest) =
                (Arc::clone(&boards), Arc::clone(&draws), Arc::clone(&latest));
            async move {
                boards
                    .region::<(), _>(
                        day,
                        seen,
                        || latest.load(Ordering::SeqCst),
                        || async move {
                            let n = draws.fetch_add(1, Ordering::SeqCst) + 1;
                            Ok(format!("board {n}"))
                        },
                    )
                    .await
                    .unwrap()
            }
        };
        let started = Instant::now();
        assert_eq!(&*ask(10).await, "board 1");
        assert_eq!(&*ask(9).await, "board 1", "drawn after commit 10 serves 9");
        latest.store(11, Ordering::SeqCst);
        // Twenty dispatchers told of commit 11 at once: one new board, a second later.
        let waiting: Vec<_> = (0..20).map(|_| tokio::spawn(ask(11))).collect();
        for task in waiting {
            assert_eq!(&*task.await.unwrap(), "board 2");
        }
        assert_eq!(draws.load(Ordering::SeqCst), 2);
        assert!(started.elapsed() >= EVERY);
        // A page that has not been told of a commit gets the board drawn last.
        assert_eq!(&*ask(0).await, "board 2");
    }
}
