//! The YAML parser's events for `build`'s tree builder, from a thread of their own when the file
//! is big: parsing is about half of a big spec's load, building and decoding the other half, so
//! on two cores the two stages overlap and the load takes about the longer one.
//!
//! The parser's own events are turned into small [`Event`]s where they are made (the positions
//! worked out, the stream's markers dropped): a 100,000-container file yields some 6 million, and
//! each is copied into a batch and out again. The batches travel in order and their buffers come
//! back to be filled again, so the parsing thread does not fault in fresh memory for each. An
//! error stops both stages (the builder's budgets included: returning early closes the channel,
//! which ends the parsing thread).

use std::borrow::Cow;

use serde_saphyr::granit_parser::{self as granit, Parser};

use super::node::{ParseError, Pos};

/// One parser event the tree builder acts on, with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'t> {
    /// Where the value (or document) starts.
    pub pos: Pos,
    /// What it is.
    pub kind: Kind<'t>,
}

/// The kinds of [`Event`]. Anchors are the parser's numbers (0 for none).
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'t> {
    /// A document starts.
    DocumentStart,
    /// A scalar; `plain` when it was written unquoted and untagged (so its type is read from its
    /// text) rather than quoted, as a block scalar or tagged `!!str`.
    Scalar {
        /// The scalar's text, escapes resolved.
        text: Cow<'t, str>,
        /// Unquoted and not tagged `!!str`.
        plain: bool,
        /// Its anchor.
        anchor: usize,
    },
    /// A sequence starts, with its anchor.
    SequenceStart(usize),
    /// A mapping starts, with its anchor.
    MappingStart(usize),
    /// The innermost open sequence or mapping ends.
    End,
    /// An alias to an anchor.
    Alias(usize),
}

/// Which reader makes the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The scanner of YAML's plain subset (`quick.rs`), which may find the text outside it.
    Quick,
    /// The full YAML parser.
    Full,
}

/// Why the events stopped before the end of the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// A YAML error, or an error of the caller's.
    Failed(ParseError),
    /// The quick reader found the text outside its subset: the events so far are to be
    /// forgotten and the text read again by the full parser.
    Unsupported,
}

/// Files smaller than this are parsed on the calling thread: a thread costs more than it saves.
const PIPELINE_BYTES: usize = 1 << 20;
/// Events handed from the parsing thread to the building one at a time.
const BATCH: usize = 4_096;

/// Runs `reader` over `text` (file `file` of its load) and `f` over each of its events, in
/// order, stopping at the first error (the reader's or `f`'s). A big file is read on a thread of
/// its own while the calling thread builds and decodes.
pub fn for_each_event<'t>(
    text: &'t str,
    file: u32,
    reader: Reader,
    f: &mut dyn FnMut(Event<'t>) -> Result<(), ParseError>,
) -> Result<(), Stop> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let pipeline_bytes = if cores < 2 {
        usize::MAX
    } else {
        PIPELINE_BYTES
    };
    for_each_event_from(text, file, reader, pipeline_bytes, f)
}

/// [`for_each_event`], with a thread for files of at least `pipeline_bytes`.
fn for_each_event_from<'t>(
    text: &'t str,
    file: u32,
    reader: Reader,
    pipeline_bytes: usize,
    f: &mut dyn FnMut(Event<'t>) -> Result<(), ParseError>,
) -> Result<(), Stop> {
    if text.len() < pipeline_bytes {
        let mut failed = None;
        let read = produce(text, file, reader, &mut |event| match f(event) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        });
        return match failed {
            Some(e) => Err(Stop::Failed(e)),
            None => read,
        };
    }
    std::thread::scope(|s| {
        // Full batches one way (the last with how the reading ended), empty buffers back.
        type Batch<'t> = (Vec<Event<'t>>, Option<Result<(), Stop>>);
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Batch<'t>>(8);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Event<'t>>>();
        s.spawn(move || {
            let fresh = || Vec::with_capacity(BATCH);
            let mut batch = fresh();
            let read = produce(text, file, reader, &mut |event| {
                batch.push(event);
                if batch.len() < BATCH {
                    return true;
                }
                let next = empty_rx.try_recv().unwrap_or_else(|_| fresh());
                // A closed channel means the builder stopped at an error of its own.
                full_tx
                    .send((std::mem::replace(&mut batch, next), None))
                    .is_ok()
            });
            let _ = full_tx.send((batch, Some(read)));
        });
        // Returning early drops the receiver, which ends the parsing thread at its next batch.
        for (mut batch, end) in full_rx {
            for event in batch.drain(..) {
                f(event).map_err(Stop::Failed)?;
            }
            if let Some(end) = end {
                return end;
            }
            let _ = empty_tx.send(batch);
        }
        Ok(())
    })
}

/// Hands `reader`'s events to `sink` until the text ends, the reader stops, or `sink` returns
/// false.
fn produce<'t>(
    text: &'t str,
    file: u32,
    reader: Reader,
    sink: &mut dyn FnMut(Event<'t>) -> bool,
) -> Result<(), Stop> {
    match reader {
        Reader::Quick => super::quick::scan(text, file, sink).map_err(|_| Stop::Unsupported),
        Reader::Full => {
            for item in Parser::new_from_str(text) {
                if let Some(event) = convert(item, file).map_err(Stop::Failed)?
                    && !sink(event)
                {
                    break;
                }
            }
            Ok(())
        }
    }
}

/// The parser's event as an [`Event`], `None` for those the builder has no use for.
fn convert<'t>(item: granit::ParseResult<'t>, file: u32) -> Result<Option<Event<'t>>, ParseError> {
    use granit::Event as E;
    let (event, span) = item.map_err(|e| {
        let m = e.marker();
        ParseError {
            pos: Some(Pos {
                file,
                line: m.line() as u32,
                column: m.col() as u32 + 1,
            }),
            message: e.info().to_string(),
        }
    })?;
    let kind = match event {
        E::DocumentStart(..) => Kind::DocumentStart,
        E::Scalar(text, style, anchor, tag) => Kind::Scalar {
            text,
            plain: matches!(style, granit::ScalarStyle::Plain)
                && tag.as_ref().is_none_or(|t| t.suffix() != "str"),
            anchor,
        },
        E::SequenceStart(_, anchor, _) => Kind::SequenceStart(anchor),
        E::MappingStart(_, anchor, _) => Kind::MappingStart(anchor),
        E::SequenceEnd | E::MappingEnd => Kind::End,
        E::Alias(id) => Kind::Alias(id),
        _ => return Ok(None),
    };
    Ok(Some(Event {
        pos: Pos {
            file,
            line: span.start.line() as u32,
            column: span.start.col() as u32 + 1,
        },
        kind,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event as text, or the error, through the pipeline or not.
    fn events(text: &str, pipeline_bytes: usize, stop_after: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let result = for_each_event_from(text, 7, Reader::Full, pipeline_bytes, &mut |event| {
            seen.push(format!("{event:?}"));
            if seen.len() == stop_after {
                return Err(ParseError {
                    pos: None,
                    message: "enough".into(),
                });
            }
            Ok(())
        });
        if let Err(e) = result {
            seen.push(format!("error {e:?}"));
        }
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
            direct.last().unwrap().contains("line: 3001"),
            "{:?}",
            direct.last()
        );
        assert_eq!(events(&text, 0, 0), direct);
        // The builder stopping early ends the parsing thread too (the scope would not return).
        let stopped = events(&text, 0, 10);
        assert_eq!(stopped[..10], direct[..10]);
        assert!(stopped[10].contains("enough"), "{stopped:?}");
    }

    #[test]
    fn events_carry_positions_styles_and_anchors() {
        let text = "a: &x 1\nb: !!str 2\nc: [*x, 'q']\n";
        let mut seen = Vec::new();
        for_each_event_from(text, 3, Reader::Full, usize::MAX, &mut |e| {
            seen.push(e);
            Ok(())
        })
        .unwrap();
        let at = |line, column| Pos {
            file: 3,
            line,
            column,
        };
        let scalar = |text: &'static str, plain, anchor, pos| Event {
            pos,
            kind: Kind::Scalar {
                text: Cow::Borrowed(text),
                plain,
                anchor,
            },
        };
        assert_eq!(seen[0].kind, Kind::DocumentStart);
        assert_eq!(seen[1].kind, Kind::MappingStart(0));
        assert_eq!(seen[3], scalar("1", true, 1, at(1, 7)));
        assert_eq!(seen[5], scalar("2", false, 0, at(2, 10)));
        assert_eq!(seen[7].pos, at(3, 4));
        assert_eq!(seen[8].kind, Kind::Alias(1));
        assert_eq!(seen[9], scalar("q", false, 0, at(3, 9)));
        assert_eq!(seen[10].kind, Kind::End);
    }
}
