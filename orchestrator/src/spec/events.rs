//! The YAML parser's events for `node`'s tree builder, from a thread of their own when the file
//! is big: parsing is about half of a big spec's load, building and decoding the other half, so
//! on two cores the two stages overlap and the load takes about the longer one.
//!
//! The events arrive in order and in batches; an error stops both stages (the builder's budgets
//! included: returning early closes the channel, which ends the parsing thread).

use super::node::ParseError;

/// What the YAML parser yields: an event and where it was written, or the reason it stopped.
pub type Parsed<'t> = Result<
    (
        serde_saphyr::granit_parser::Event<'t>,
        serde_saphyr::granit_parser::Span,
    ),
    serde_saphyr::granit_parser::ScanError,
>;

/// Files smaller than this are parsed on the calling thread: a thread costs more than it saves.
const PIPELINE_BYTES: usize = 1 << 20;
/// Events handed from the parsing thread to the building one at a time.
const BATCH: usize = 4_096;

/// Runs the YAML parser over `text` and `f` over each of its events, in order, stopping at the
/// first error `f` returns. A big file is parsed on a thread of its own while the calling thread
/// builds and decodes (a pipeline of two stages, the parser about half of the work), so on two
/// cores the load takes about the longer stage rather than the sum.
pub fn for_each_event<'t>(
    text: &'t str,
    f: &mut dyn FnMut(Parsed<'t>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for_each_event_from(
        text,
        if cores < 2 {
            usize::MAX
        } else {
            PIPELINE_BYTES
        },
        f,
    )
}

/// [`for_each_event`], with a thread for files of at least `pipeline_bytes`.
fn for_each_event_from<'t>(
    text: &'t str,
    pipeline_bytes: usize,
    f: &mut dyn FnMut(Parsed<'t>) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    use serde_saphyr::granit_parser::Parser;
    if text.len() < pipeline_bytes {
        return Parser::new_from_str(text).try_for_each(f);
    }
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Parsed<'t>>>(8);
        s.spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in Parser::new_from_str(text) {
                let failed = item.is_err();
                batch.push(item);
                if failed || batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    // The parser stops at its first error; a closed channel means the builder
                    // stopped at an error of its own.
                    if tx.send(full).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
        // Returning early drops the receiver, which ends the parsing thread at its next batch.
        rx.into_iter().flatten().try_for_each(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event as text, or the error, through the pipeline or not.
    fn events(text: &str, pipeline_bytes: usize, stop_after: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let _ = for_each_event_from(text, pipeline_bytes, &mut |item| {
            seen.push(match item {
                Ok((event, span)) => format!("{event:?} {}", span.start.line()),
                Err(e) => format!("error {}", e.marker().line()),
            });
            if seen.len() == stop_after {
                return Err(ParseError {
                    pos: None,
                    message: "enough".into(),
                });
            }
            Ok(())
        });
        seen
    }

    #[test]
    fn the_pipeline_yields_the_same_events_in_order() {
        // More events than several batches, then a YAML error near the end.
        let mut text: String = (0..3_000)
            .map(|i| format!("k{i}: [a, {{b: {i}}}]\n"))
            .collect();
        let direct = events(&text, usize::MAX, 0);
        assert!(direct.len() > 3 * BATCH);
        assert_eq!(events(&text, 0, 0), direct);
        text.push_str("bad: [unclosed\n");
        let direct = events(&text, usize::MAX, 0);
        assert!(
            direct.last().unwrap().starts_with("error 3001"),
            "{direct:?}"
        );
        assert_eq!(events(&text, 0, 0), direct);
        // The builder stopping early ends the parsing thread too (the scope would not return).
        assert_eq!(events(&text, 0, 10), direct[..10]);
    }
}
