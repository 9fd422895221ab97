//! Progress output: every step says what it does and how long it took.

use std::time::Instant;

pub fn step<T>(what: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    eprintln!("==> {what}");
    let started = Instant::now();
    let result = work();
    let seconds = started.elapsed().as_secs_f64();
    match &result {
        Ok(_) => eprintln!("    done in {seconds:.1}s: {what}"),
        Err(_) => eprintln!("    FAILED after {seconds:.1}s: {what}"),
    }
    result
}

pub fn note(message: &str) {
    eprintln!("    {message}");
}
