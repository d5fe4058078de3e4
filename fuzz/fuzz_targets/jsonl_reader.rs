//! The JSON Lines reader, and the format sniffing of stdin, on arbitrary
//! bytes: no panic or hang; every non-blank line is one comment or one error
//! naming that line.

#![no_main]

use libfuzzer_sys::fuzz_target;
use moderate::Error;
use moderate::io::{CommentReader, InputFormat, ReadOptions};
use std::io::Cursor;

fuzz_target!(|data: &[u8]| {
    let opts = ReadOptions {
        format: Some(InputFormat::Jsonl),
        keep_columns: vec!["source".into(), "meta".into()],
        ..ReadOptions::default()
    };
    let reader =
        CommentReader::from_reader("fuzz.jsonl", Box::new(Cursor::new(data.to_vec())), &opts)
            .expect("JSONL opens without reading");
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let mut last = 0;
    for item in reader {
        let line = match item {
            Ok(c) => c.line,
            Err(Error::Input { line, .. }) => line,
            Err(e) => panic!("unexpected error: {e}"),
        };
        assert!(
            line > last && line <= lines,
            "line {line} after {last} of {lines}"
        );
        last = line;
    }
    // Stdin: the format is sniffed from the first non-blank line.
    if let Ok(reader) = CommentReader::from_reader(
        "-",
        Box::new(Cursor::new(data.to_vec())),
        &ReadOptions::default(),
    ) {
        for item in reader {
            if let Err(e) = item {
                assert!(matches!(e, Error::Input { .. }), "unexpected error: {e}");
            }
        }
    }
});
