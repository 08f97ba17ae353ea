//! The allocator of every process that runs the proxy (the CLI, the tray app, the bench).
//!
//! A burst of requests allocates tens of megabytes of short-lived buffers. glibc keeps freed
//! memory in per-thread arenas, so the process stayed at its peak after the load; jemalloc with
//! background threads returns dirty pages to the OS after its decay time (10 s by default)
//! even when no thread allocates any more.

#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background purging (idempotent; a no-op without the `jemalloc` feature).
pub fn purge_in_background() {
    #[cfg(feature = "jemalloc")]
    if let Err(e) = tikv_jemalloc_ctl::background_thread::write(true) {
        tracing::warn!(error = %e, "jemalloc background purging is off");
    }
}

/// True when freed memory is returned to the OS by background threads.
pub fn purging_in_background() -> bool {
    #[cfg(feature = "jemalloc")]
    {
        tikv_jemalloc_ctl::background_thread::read().unwrap_or(false)
    }
    #[cfg(not(feature = "jemalloc"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn starting_the_proxy_turns_background_purging_on() {
        super::purge_in_background();
        assert_eq!(super::purging_in_background(), cfg!(feature = "jemalloc"));
    }
}
