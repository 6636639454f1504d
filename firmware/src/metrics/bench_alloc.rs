//! The benchmark build's counting allocator (cargo feature `bench-alloc`):
//! the system allocator wrapped by `stats_alloc`, which counts every
//! allocation, reallocation and free of the process and their bytes.
//! `tools/bench-relay --alloc` reads the totals from `metrics` before and
//! after a run and divides by the messages relayed. The product binary is
//! built without the feature and keeps the plain system allocator: the
//! counters are atomic operations on every allocation.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::{Registry, Unit};
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};
use std::alloc::System;

#[global_allocator]
static COUNTING: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn counter(value: usize) -> Counter<u64> {
    let c = Counter::<u64>::default();
    c.inc_by(u64::try_from(value).unwrap_or(u64::MAX));
    c
}

/// Adds `breakwater_alloc_allocations_total`, `..._reallocations_total`,
/// `..._deallocations_total` and `breakwater_alloc_allocated_bytes_total`.
pub fn register(registry: &mut Registry) {
    let s = COUNTING.stats();
    registry.register(
        "alloc_allocations",
        "Heap allocations since start (bench-alloc build)",
        counter(s.allocations),
    );
    registry.register(
        "alloc_reallocations",
        "Heap reallocations since start (bench-alloc build)",
        counter(s.reallocations),
    );
    registry.register(
        "alloc_deallocations",
        "Heap frees since start (bench-alloc build)",
        counter(s.deallocations),
    );
    registry.register_with_unit(
        "alloc_allocated",
        "Bytes allocated since start, reallocations' growth included (bench-alloc build)",
        Unit::Bytes,
        counter(s.bytes_allocated),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn allocations_are_counted_and_exported() {
        let before = super::COUNTING.stats().allocations;
        let v: Vec<u64> = (0..100).collect();
        assert_eq!(v.len(), 100);
        assert!(super::COUNTING.stats().allocations > before);
        let mut registry = prometheus_client::registry::Registry::with_prefix("breakwater");
        super::register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        assert!(text.contains("breakwater_alloc_allocations_total "));
        assert!(text.contains("breakwater_alloc_allocated_bytes_total "));
    }
}
