//! Work over a long list in slices on every core, the results in the list's order: what both
//! YAML renders of a fleet (`resolve::render`, the model; `render`, the spec) do with 100,000
//! containers, where serde-saphyr's one core was the bottleneck (docs/scale.md).

/// The cores to use: what the OS offers, at least one.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// `work` on each `slice`-long slice of `items` on up to `threads` threads, the results in the
/// slices' order; the first error (in that order) wins. Each thread takes every `threads`-th
/// slice, so the work stays even when the items' sizes vary.
///
/// # Panics
/// When `slice` is 0, or `work` panics on a thread.
pub fn in_slices<T, R, E, F>(
    items: &[T],
    slice: usize,
    threads: usize,
    work: F,
) -> Result<Vec<R>, E>
where
    T: Sync,
    R: Send,
    E: Send,
    F: Fn(&[T]) -> Result<R, E> + Sync,
{
    let slices: Vec<&[T]> = items.chunks(slice).collect();
    let threads = threads.clamp(1, slices.len().max(1));
    let work = &work;
    let rendered: Vec<Vec<(usize, Result<R, E>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let slices = &slices;
                s.spawn(move || {
                    (t..slices.len())
                        .step_by(threads)
                        .map(|i| (i, work(slices[i])))
                        .collect()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a slice's thread panicked"))
            .collect()
    });
    let mut parts: Vec<(usize, Result<R, E>)> = rendered.into_iter().flatten().collect();
    parts.sort_unstable_by_key(|(i, _)| *i);
    parts.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_lists_order_whatever_the_threads() {
        let items: Vec<u32> = (0..23).collect();
        for (slice, threads) in [(1, 1), (3, 2), (4, 3), (7, 8), (100, 2)] {
            let sums: Vec<u32> =
                in_slices(&items, slice, threads, |s| Ok::<_, ()>(s.iter().sum())).unwrap();
            let expected: Vec<u32> = items.chunks(slice).map(|s| s.iter().sum()).collect();
            assert_eq!(sums, expected, "slice {slice}, threads {threads}");
        }
        let none: Vec<u32> = in_slices(&[] as &[u32], 4, 2, |_| Ok::<_, ()>(0)).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn the_first_slices_error_wins() {
        let items: Vec<u32> = (0..20).collect();
        let r: Result<Vec<u32>, u32> =
            in_slices(
                &items,
                2,
                3,
                |s| {
                    if s[0] >= 6 { Err(s[0]) } else { Ok(s[0]) }
                },
            );
        assert_eq!(r, Err(6));
    }
}
