// The thread pool behind parallelFor: std::thread and one mutex with two condition variables, no
// OpenMP. The pool has to be resized at run time (setThreads) and joined when Node shuts the
// environment down, and a GCC OpenMP runtime would spin its idle threads for a while after each
// parallel region (GOMP_SPINCOUNT), taking CPU from the JavaScript running between kernels on a
// machine with as many threads as cores. Workers here sleep on a condition variable between kernels.
#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace bdlab {
namespace {

using Body = std::function<void(int64_t, int64_t, int64_t)>;

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
    remaining_ = chunks;
    error_ = nullptr;
    wake_.notify_all();
    runChunks(lock);
    done_.wait(lock, [this] { return remaining_ == 0; });
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
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& worker : workers_) worker.join();
    workers_.clear();
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }

  void startWorkers() {
    // Holding submit_: no job is running and resize() cannot interleave.
    while (static_cast<int>(workers_.size()) < threads_ - 1) workers_.emplace_back([this] { work(); });
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stopping_ || next_ < chunks_; });
      if (stopping_) return;
      runChunks(lock);
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
      if (--remaining_ == 0) done_.notify_all();
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_;  // one job at a time
  std::mutex mutex_;   // guards everything below
  std::condition_variable wake_, done_;
  bool stopping_ = false;
  const Body* body_ = nullptr;
  int64_t n_ = 0, chunks_ = 0, next_ = 0, remaining_ = 0;
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
