// The kernels' thread pool and its one entry point, parallelFor. A kernel says only what its
// independent unit of work is (a macro-tile of the GEMM, an image, a block of rows) and how many units
// are worth a thread of their own; parallelFor cuts [0, n) into contiguous chunks, runs them on the
// pool and the calling thread, and returns when every chunk is done, so JavaScript never sees a thread.
//
// Determinism: the chunks depend only on (n, grain, thread count), never on timing, and a chunk's
// index is passed to the body, so a reduction writes one partial per chunk and sums them in chunk
// order afterwards. Kernels whose units write disjoint outputs give the same bits at every thread count.
#pragma once
#include <cstdint>
#include <functional>

namespace bdlab {

/**
 * Work worth a thread of its own. Waking a parked worker and waiting for it costs 10-50 us, so a
 * chunk should run well beyond that: ~1M multiply-adds (10-20 us of a vectorized kernel) for
 * compute-bound kernels, 64K floats (~256 KB streamed, 15-30 us) for memory-bound ones. Smaller
 * calls (LeNet's dense layers, per-channel vectors) stay on the calling thread.
 */
constexpr int64_t kMinChunkMacs = int64_t(1) << 20;
constexpr int64_t kMinChunkFloats = int64_t(1) << 16;

/** True when tests asked for every kernel to be split as finely as the thread count allows (setThreads' second argument). */
bool splitEverything();

/**
 * Units per chunk so that a chunk holds at least `minimum` work when one unit holds `perUnit` (1 when
 * splitEverything(), so that tests reach the chunk boundaries of small shapes).
 */
inline int64_t grainFor(int64_t perUnit, int64_t minimum) {
  if (splitEverything() || perUnit >= minimum) return 1;
  return (minimum + perUnit - 1) / (perUnit > 0 ? perUnit : 1);
}

/** The number of threads kernels use, the caller included (1: everything runs on the calling thread). */
int threadCount();

/**
 * Sets the thread count: the pool keeps exactly n - 1 parked workers (joined and restarted when n
 * changes). Called from JavaScript through setThreads(n) before the first kernel.
 */
void setThreadCount(int n, bool splitEverything = false);

/** Joins the pool's workers; the next kernel restarts them. Called when the Node environment shuts down. */
void stopThreads();

/** How many chunks parallelFor splits [0, n) into: min(threads, ceil(n / grain)), at least 1. */
int64_t chunkCount(int64_t n, int64_t grain);

/** [begin, end) of chunk i of chunkCount(n, grain): contiguous, sizes differing by at most one unit. */
inline int64_t chunkBegin(int64_t n, int64_t chunks, int64_t i) { return n * i / chunks; }

/**
 * Runs body(chunk, begin, end) for every chunk of [0, n) (see chunkCount) and returns when all have
 * run. A call from inside a chunk (a GEMM inside a per-image task) runs its chunks inline, as does a
 * call while another JavaScript thread holds the pool. The first exception thrown by a chunk is
 * rethrown here once every chunk has finished.
 */
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t chunk, int64_t begin, int64_t end)>& body);

// Deferred kernels. A kernel whose result is not read at once (a filter gradient: only the optimizer
// reads it, after the whole backward pass) can be handed to the pool instead of run: an idle worker
// starts it while JavaScript goes on issuing kernels, the chunks of its parallelFor calls go to any
// idle thread, and the calling thread runs and joins what is left when it waits. A deferred task
// computes exactly what the kernel would have computed in place (chunks never change results), so
// results keep their bits. The JavaScript side (src/engine/kernels/deferred.ts) keeps the task's
// tensors alive and waits before anything reads its output.

/**
 * Queues `task` and returns its id (1, 2, ...), or runs it at once and returns 0 when the pool has no
 * worker (one thread) or another JavaScript thread holds it.
 */
uint64_t defer(std::function<void()> task);

/** Runs the queued tasks on the calling thread, waits for those running on workers, and rethrows the first error of any. */
void waitForDeferred();

/** Every deferred task with an id below this one has finished. */
uint64_t deferredFinishedBelow();

}  // namespace bdlab
