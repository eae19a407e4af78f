// The thread pool behind parallelFor: std::thread, one mutex and two condition variables, no
// OpenMP. The pool has to be resized at run time (setThreads) and joined when Node shuts the
// environment down, which a GCC OpenMP runtime does not allow.
//
// Waiting: a worker that finds no work spins (pause, then sched_yield) for up to kSpinMicros before it
// parks on a condition variable, and the caller of a kernel spins likewise for its workers to finish.
// Waking a parked thread costs a futex call and, in a virtual machine, an inter-processor interrupt
// through the hypervisor: a round trip measured 80 us (median) on the 2-vCPU machine this was tuned
// on, against 10-20 us of JavaScript between two kernels of a training step; parking after every
// kernel made the second thread start most kernels late and cost a third of the 2-thread speed-up.
// The spin is bounded and yields, so threads idle for longer (between epochs, in data loading, a
// stage that runs no kernels) park, and a core shared with other processes is handed over.
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BDLAB_PAUSE() _mm_pause()
#else
#define BDLAB_PAUSE() std::this_thread::yield()
#endif

namespace bdlab {
namespace {

using Body = std::function<void(int64_t, int64_t, int64_t)>;
using Clock = std::chrono::steady_clock;

/** How long an idle thread spins before it parks (see the comment at the top). */
constexpr auto kSpinMicros = std::chrono::microseconds(1000);

/** Spins until `ready()` or kSpinMicros have passed; true when ready. Pauses first, then yields the core. */
template <typename Ready>
bool spinUntil(const Ready& ready) {
  for (int i = 0; i < 64; ++i) {
    if (ready()) return true;
    BDLAB_PAUSE();
  }
  const auto deadline = Clock::now() + kSpinMicros;
  while (Clock::now() < deadline) {
    for (int i = 0; i < 16; ++i) {
      if (ready()) return true;
      BDLAB_PAUSE();
    }
    std::this_thread::yield();
  }
  return ready();
}

/** Set while a thread runs a chunk, so that a parallelFor inside it runs inline instead of deadlocking. */
thread_local bool insideChunk = false;

bool splitAll = false;

class Pool {
 public:
  ~Pool() { shutdown(); }

  int threads() const { return threads_; }

  void resize(int n) {
    std::lock_guard<std::mutex> submit(submit_);
    if (n == threads_) return;
    stop();
    threads_ = n;  // workers start lazily, at the next parallel kernel
  }

  /** Joins the workers; the next job starts them again. */
  void shutdown() {
    std::lock_guard<std::mutex> submit(submit_);
    stop();
  }

  void run(int64_t n, int64_t chunks, const Body& body) {
    // A second JavaScript thread (worker_threads) calling a kernel while one runs: it works alone.
    std::unique_lock<std::mutex> submit(submit_, std::try_to_lock);
    if (!submit.owns_lock()) return runInline(n, chunks, body);
    startWorkers();
    std::unique_lock<std::mutex> lock(mutex_);
    body_ = &body;
    n_ = n;
    chunks_ = chunks;
    next_ = 0;
    remaining_.store(chunks);
    error_ = nullptr;
    generation_.fetch_add(1);
    if (parked_ > 0) wake_.notify_all();
    runChunks(lock);
    if (remaining_.load() != 0) {
      lock.unlock();
      const bool finished = spinUntil([this] { return remaining_.load() == 0; });
      lock.lock();
      if (!finished) {
        callerParked_ = true;
        done_.wait(lock, [this] { return remaining_.load() == 0; });
        callerParked_ = false;
      }
    }
    body_ = nullptr;
    chunks_ = 0;
    if (error_) std::rethrow_exception(error_);
  }

  static void runInline(int64_t n, int64_t chunks, const Body& body) {
    const bool outer = insideChunk;
    insideChunk = true;
    try {
      for (int64_t i = 0; i < chunks; ++i) body(i, chunkBegin(n, chunks, i), chunkBegin(n, chunks, i + 1));
    } catch (...) {
      insideChunk = outer;
      throw;
    }
    insideChunk = outer;
  }

 private:
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true);
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_.store(false);
  }

  void startWorkers() {
    // Holding submit_: no job is running and resize() cannot interleave.
    while (static_cast<int>(workers_.size()) < threads_ - 1) workers_.emplace_back([this] { work(); });
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (stopping_.load()) return;
      runChunks(lock);
      const uint64_t seen = generation_.load();
      lock.unlock();
      const auto moved = [this, seen] { return stopping_.load() || generation_.load() != seen; };
      const bool woken = spinUntil(moved);
      lock.lock();
      if (woken) continue;
      // Parking is decided under mutex_, which run() holds while it publishes a job and reads parked_:
      // a job published before this point is seen by the predicate, one after it finds parked_ > 0.
      ++parked_;
      wake_.wait(lock, moved);
      --parked_;
    }
  }

  /** Claims and runs chunks until none is left; `lock` (on mutex_) is held on entry and on return. */
  void runChunks(std::unique_lock<std::mutex>& lock) {
    while (next_ < chunks_) {
      const int64_t i = next_++;
      const Body* body = body_;
      const int64_t n = n_, chunks = chunks_;
      lock.unlock();
      std::exception_ptr error;
      insideChunk = true;
      try {
        (*body)(i, chunkBegin(n, chunks, i), chunkBegin(n, chunks, i + 1));
      } catch (...) {
        error = std::current_exception();
      }
      insideChunk = false;
      lock.lock();
      if (error && !error_) error_ = error;
      // The chunk's writes happen before this decrement, which the caller's spin reads (sequentially consistent).
      if (remaining_.fetch_sub(1) == 1 && callerParked_) done_.notify_all();
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_;  // one job at a time
  std::mutex mutex_;   // guards the job fields below; the atomics are also read without it while spinning
  std::condition_variable wake_, done_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> generation_{0};  // bumped for every job: what spinning workers watch
  std::atomic<int64_t> remaining_{0};    // chunks of the current job not yet finished: what a spinning caller watches
  int parked_ = 0;                       // workers waiting on wake_
  bool callerParked_ = false;            // the caller waiting on done_
  const Body* body_ = nullptr;
  int64_t n_ = 0, chunks_ = 0, next_ = 0;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

int threadCount() { return pool().threads(); }

void setThreadCount(int n, bool splitEverything) {
  pool().resize(std::max(1, n));
  splitAll = splitEverything;
}

bool splitEverything() { return splitAll; }

void stopThreads() { pool().shutdown(); }

int64_t chunkCount(int64_t n, int64_t grain) {
  if (n <= 0) return 1;
  const int64_t byGrain = (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  return std::max<int64_t>(1, std::min<int64_t>(threadCount(), byGrain));
}

void parallelFor(int64_t n, int64_t grain, const Body& body) {
  if (n <= 0) return;
  const int64_t chunks = chunkCount(n, grain);
  // One chunk runs as a plain call, so a product inside it (a per-image GEMM) may still use the pool.
  if (chunks == 1) return body(0, 0, n);
  if (insideChunk) return Pool::runInline(n, chunks, body);
  pool().run(n, chunks, body);
}

}  // namespace bdlab
