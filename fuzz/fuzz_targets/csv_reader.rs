//! The CSV reader on arbitrary bytes: no panic or hang; the header either
//! opens or fails with an input error; then every record is a comment or an
//! error whose line lies within the input (lines are counted by `\n`, so in a
//! file with bare `\r` line ends a record may sit on the header's line 1),
//! and iteration ends.

#![no_main]

use libfuzzer_sys::fuzz_target;
use moderate::Error;
use moderate::io::{CommentReader, InputFormat, ReadOptions};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        format: Some(InputFormat::Csv),
        keep_columns: vec!["source".into()],
        ..ReadOptions::default()
    };
    let reader =
        match CommentReader::from_reader("fuzz.csv", Box::new(Cursor::new(data.to_vec())), &opts) {
            Ok(reader) => reader,
            Err(Error::Input { .. }) => return,
            Err(e) => panic!("unexpected error opening: {e}"),
        };
    let lines = data.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    for item in reader {
        match item {
            Ok(c) => assert!(c.line >= 1 && c.line <= lines, "line {} of {lines}", c.line),
            Err(Error::Input { line, .. }) => assert!(line <= lines, "line {line} of {lines}"),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
});
