//! `moderate` command-line entry point: parse, run, exit code.

fn main() -> std::process::ExitCode {
    // candle's matrix products read RAYON_NUM_THREADS on every call.
    // moderate runs one encoder per worker thread (and splits training
    // steps across threads itself), so each product stays on its caller's
    // thread unless the user says otherwise.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: nothing else runs yet; no thread reads the environment
        // while it is written.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    moderate::cli::main()
}
