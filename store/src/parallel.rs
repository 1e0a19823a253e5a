//! Running the CPU-heavy part of a batch (automerge and record hydration) on every core with
//! rayon, while the database work stays on the calling thread.

use rayon::prelude::*;

/// Fewer items than this per thread are not worth handing to another thread.
const MIN_PER_THREAD: usize = 8;

/// Maps `items` through `f`, in order, on rayon's pool (one thread per core). A panic in `f`
/// is resumed on the calling thread.
pub(crate) fn map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync + Send) -> Vec<R> {
    if items.len() < 2 * MIN_PER_THREAD {
        return items.into_iter().map(f).collect();
    }
    items
        .into_par_iter()
        .with_min_len(MIN_PER_THREAD)
        .map(f)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn maps_in_order_on_any_number_of_threads() {
        for n in [0, 1, 7, 8, 17, 1000] {
            let items: Vec<usize> = (0..n).collect();
            assert_eq!(
                super::map(items.clone(), |i| i * 2),
                items.iter().map(|i| i * 2).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn a_panic_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            super::map((0..100).collect(), |i: usize| {
                assert!(i != 57, "item 57");
                i
            })
        });
        assert!(caught.is_err());
    }
}
