//! Hints to the memory system, for walks over millions of rows in an order other than the
//! one they are stored in (people by address while exposures go by incident): fetching a row
//! a few steps ahead overlaps the cache misses instead of waiting on each. The points where
//! memory just freed in bulk is handed back to the system ([`release_freed`]). And tables whose
//! pages are written when made ([`filled`]).

/// Start loading `s[i]` into the cache (nothing if `i` is out of bounds). Only a hint: it
/// reads nothing into the program.
#[inline]
pub fn prefetch<T>(s: &[T], i: usize) {
    if let Some(x) = s.get(i) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `x` is a live reference; a prefetch cannot fault or change memory.
        unsafe {
            std::arch::x86_64::_mm_prefetch((x as *const T).cast(), std::arch::x86_64::_MM_HINT_T0)
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = x;
    }
}

/// Hand memory freed since the last call back to the system now. The binary's allocator
/// (mimalloc) keeps freed pages for a while, so that the small allocations of a phase reuse
/// them instead of faulting fresh ones in; a phase that frees a great deal before the next
/// builds large structures calls this, so that the peak is not both.
pub fn release_freed() {
    // SAFETY: mi_collect only returns free pages of mimalloc's heaps to the system; no pointer
    // is affected (nearly nothing to do where another allocator serves the program).
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// `n` copies of `v`, every page written now. A zeroed allocation (what `vec![0; n]` asks for)
/// comes from the system untouched; where the first access to one of its pages is a read (a
/// counter incremented, a slot probed) the system maps its shared zero page there, and the
/// write that follows is a second fault that makes every core flush its TLB. For tables read
/// before they are written; 3% of the 40,000-message benchmark's samples were those faults.
pub fn filled<T: Clone>(n: usize, v: T) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    out.resize(n, v);
    out
}
