// The thread pool behind parallelFor and defer: std::thread, one mutex and three condition variables,
// no OpenMP. The pool has to be resized at run time (setThreads) and joined when Node shuts the
// environment down, which a GCC OpenMP runtime does not allow.
//
// Jobs: a parallelFor publishes a job (its chunks) and runs chunks of it until none is left, then waits
// for those other threads took. There are two kinds. A kernel job comes from the JavaScript thread
// (one at a time, under submit_); JavaScript is blocked until it is done, so every idle thread takes
// its chunks first. A deferred job comes from a deferred task (a filter gradient handed to the pool,
// see parallel.h), usually running on a worker: idle workers take its chunks, and the JavaScript
// thread does too when it waits for the deferred tasks, so the last tasks of a backward pass are
// split over every thread instead of running on one each. The JavaScript thread never takes a
// deferred job's chunk while it waits for its own kernel: that would hold JavaScript up for a chunk
// of somebody else's work.
//
// Waiting: a worker that finds no work spins (pause, then sched_yield) for up to kSpinMicros before it
// parks on a condition variable, and the submitter of a job spins likewise for its chunks to finish.
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
#include <deque>
#include <exception>
#include <mutex>
#include <set>
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
using Task = std::function<void()>;
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
/** Set while a thread runs a deferred task: its parallelFor publishes a deferred job, not a kernel job. */
thread_local bool insideDeferred = false;

bool splitAll = false;

/** Restores a thread_local flag when a scope ends, also by exception. */
class FlagScope {
 public:
  FlagScope(bool& flag, bool value) : flag_(flag), outer_(flag) { flag_ = value; }
  ~FlagScope() { flag_ = outer_; }
  FlagScope(const FlagScope&) = delete;
  FlagScope& operator=(const FlagScope&) = delete;

 private:
  bool& flag_;
  bool outer_;
};

/** One parallelFor: chunk i covers [chunkBegin(n, chunks, i), chunkBegin(n, chunks, i + 1)). */
struct Job {
  const Body* body = nullptr;
  int64_t n = 0, chunks = 0;
  int64_t next = 0;                  // the next chunk to claim (under the pool's mutex)
  std::atomic<int64_t> remaining{0};  // chunks not finished yet: what the submitter's spin reads
  std::exception_ptr error;          // the first chunk's exception (under the pool's mutex)

  bool claimable() const { return next < chunks; }
};

class Pool {
 public:
  ~Pool() { shutdown(); }

  int threads() const { return threads_; }

  void resize(int n) {
    waitDeferred();  // queued tasks belong to the old pool's workers
    std::lock_guard<std::mutex> submit(submit_);
    if (n == threads_) return;
    stop();
    threads_ = n;  // workers start lazily, at the next parallel kernel
  }

  /** Joins the workers (a running deferred task finishes, queued ones are dropped: the process is ending); the next job starts them again. */
  void shutdown() {
    std::lock_guard<std::mutex> submit(submit_);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      deferred_.clear();
      queued_.store(0);
    }
    stop();
  }

  /** A parallelFor from the JavaScript thread (or a second JavaScript thread, which then works alone). */
  void runKernel(int64_t n, int64_t chunks, const Body& body) {
    std::unique_lock<std::mutex> submit(submit_, std::try_to_lock);
    if (!submit.owns_lock()) return runInline(n, chunks, body);
    startWorkers();
    Job job;
    std::unique_lock<std::mutex> lock(mutex_);
    publish(job, n, chunks, body);
    kernelJob_ = &job;
    finish(job, lock, false);
    kernelJob_ = nullptr;
    if (job.error) std::rethrow_exception(job.error);
  }

  /** A parallelFor inside a deferred task: any idle thread may take its chunks. */
  void runDeferredJob(int64_t n, int64_t chunks, const Body& body) {
    Job job;
    std::unique_lock<std::mutex> lock(mutex_);
    publish(job, n, chunks, body);
    deferredJobs_.push_back(&job);
    finish(job, lock, true);
    deferredJobs_.erase(std::find(deferredJobs_.begin(), deferredJobs_.end(), &job));
    if (job.error) std::rethrow_exception(job.error);
  }

  static void runInline(int64_t n, int64_t chunks, const Body& body) {
    FlagScope inside(insideChunk, true);
    for (int64_t i = 0; i < chunks; ++i) body(i, chunkBegin(n, chunks, i), chunkBegin(n, chunks, i + 1));
  }

  uint64_t defer(Task task) {
    std::unique_lock<std::mutex> submit(submit_, std::try_to_lock);
    if (!submit.owns_lock() || threads_ < 2 || insideChunk || insideDeferred) {
      submit = {};
      task();  // no idle thread could take it: run it here, as a plain kernel would
      return 0;
    }
    startWorkers();
    std::lock_guard<std::mutex> lock(mutex_);
    const uint64_t id = nextDeferred_++;
    deferred_.push_back({id, std::move(task)});
    queued_.store(static_cast<int64_t>(deferred_.size()));
    generation_.fetch_add(1);
    if (parked_ > 0) wake_.notify_one();
    return id;
  }

  /** The calling (JavaScript) thread helps with the deferred tasks until every one has finished. */
  void waitDeferred() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (Job* job = claimableDeferredJob()) {
        runChunk(*job, lock);
      } else if (!deferred_.empty()) {
        runDeferred(lock);
      } else if (running_.empty()) {
        break;
      } else {
        // A worker is inside a task: wait until it publishes a job, or it finishes.
        const uint64_t seen = generation_.load();
        const int64_t runningNow = runningCount_.load();
        const auto moved = [&] { return generation_.load() != seen || runningCount_.load() != runningNow; };
        lock.unlock();
        const bool woken = spinUntil(moved);
        lock.lock();
        if (!woken) {
          ++deferredWaiters_;
          changed_.wait(lock, moved);
          --deferredWaiters_;
        }
      }
    }
    if (deferredError_) {
      std::exception_ptr error = deferredError_;
      deferredError_ = nullptr;
      std::rethrow_exception(error);
    }
  }

  uint64_t finishedBelow() {
    std::lock_guard<std::mutex> lock(mutex_);
    uint64_t below = nextDeferred_;
    if (!deferred_.empty()) below = std::min(below, deferred_.front().id);
    if (!running_.empty()) below = std::min(below, *running_.begin());
    return below;
  }

 private:
  struct Deferred {
    uint64_t id;
    Task task;
  };

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
    // Holding submit_: no kernel job is running and resize() cannot interleave.
    while (static_cast<int>(workers_.size()) < threads_ - 1) workers_.emplace_back([this] { work(); });
  }

  /** Makes `job` visible to idle threads; `mutex_` is held. */
  void publish(Job& job, int64_t n, int64_t chunks, const Body& body) {
    job.body = &body;
    job.n = n;
    job.chunks = chunks;
    job.remaining.store(chunks);
    generation_.fetch_add(1);
    if (parked_ > 0) wake_.notify_all();
    if (deferredWaiters_ > 0) changed_.notify_all();
  }

  /**
   * Runs the submitter's share of `job` and returns when every chunk has finished; `lock` (on mutex_) is
   * held on entry and on return. While other threads finish their chunks, the submitter of a deferred
   * job (`helpOthers`) takes chunks of other jobs; the submitter of a kernel job only waits.
   */
  void finish(Job& job, std::unique_lock<std::mutex>& lock, bool helpOthers) {
    while (job.claimable()) runChunk(job, lock);
    while (job.remaining.load() != 0) {
      if (helpOthers) {
        if (Job* other = claimableJob()) {
          runChunk(*other, lock);
          continue;
        }
      }
      const uint64_t seen = generation_.load();
      const auto moved = [&] { return job.remaining.load() == 0 || (helpOthers && generation_.load() != seen); };
      lock.unlock();
      const bool woken = spinUntil(moved);
      lock.lock();
      if (!woken) {
        ++chunkWaiters_;
        done_.wait(lock, [&] { return job.remaining.load() == 0; });
        --chunkWaiters_;
      }
    }
  }

  /** The kernel job first (JavaScript waits for it), then deferred jobs; nullptr when no chunk is left. */
  Job* claimableJob() {
    if (kernelJob_ != nullptr && kernelJob_->claimable()) return kernelJob_;
    return claimableDeferredJob();
  }

  Job* claimableDeferredJob() {
    for (Job* job : deferredJobs_) {
      if (job->claimable()) return job;
    }
    return nullptr;
  }

  /** Claims the next chunk of `job` and runs it; `lock` (on mutex_) is held on entry and on return. */
  void runChunk(Job& job, std::unique_lock<std::mutex>& lock) {
    const int64_t i = job.next++;
    lock.unlock();
    std::exception_ptr error;
    {
      FlagScope inside(insideChunk, true);
      try {
        (*job.body)(i, chunkBegin(job.n, job.chunks, i), chunkBegin(job.n, job.chunks, i + 1));
      } catch (...) {
        error = std::current_exception();
      }
    }
    lock.lock();
    if (error && !job.error) job.error = error;
    // The chunk's writes happen before this decrement, which the submitter's spin reads (sequentially consistent).
    if (job.remaining.fetch_sub(1) == 1 && chunkWaiters_ > 0) done_.notify_all();
  }

  /** Takes the oldest queued task and runs it on this thread; `lock` (on mutex_) is held on entry and on return. */
  void runDeferred(std::unique_lock<std::mutex>& lock) {
    Deferred next = std::move(deferred_.front());
    deferred_.pop_front();
    queued_.store(static_cast<int64_t>(deferred_.size()));
    running_.insert(next.id);
    runningCount_.fetch_add(1);
    lock.unlock();
    std::exception_ptr error;
    {
      FlagScope deferred(insideDeferred, true);
      try {
        next.task();
      } catch (...) {
        error = std::current_exception();
      }
    }
    next.task = nullptr;  // whatever the task captured is released outside the lock
    lock.lock();
    if (error && !deferredError_) deferredError_ = error;
    running_.erase(next.id);
    // The task's writes happen before this decrement, which a spinning waiter reads.
    runningCount_.fetch_sub(1);
    if (deferredWaiters_ > 0) changed_.notify_all();
  }

  void work() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      if (stopping_.load()) return;
      if (Job* job = claimableJob()) {
        runChunk(*job, lock);
        continue;
      }
      // Deferred tasks fill the gaps between kernels.
      if (!deferred_.empty()) {
        runDeferred(lock);
        continue;
      }
      const uint64_t seen = generation_.load();
      lock.unlock();
      const auto moved = [this, seen] { return stopping_.load() || generation_.load() != seen; };
      const bool woken = spinUntil(moved);
      lock.lock();
      if (woken) continue;
      // Parking is decided under mutex_, which publish() and defer() hold while they bump generation_
      // and read parked_: work published before this point is seen by the predicate, later work finds parked_ > 0.
      ++parked_;
      wake_.wait(lock, moved);
      --parked_;
    }
  }

  int threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex submit_;  // one kernel job at a time
  std::mutex mutex_;   // guards everything below but the atomics, which are also read while spinning
  std::condition_variable wake_;     // parked workers: new work or stopping
  std::condition_variable done_;     // submitters parked until their job's last chunk finishes
  std::condition_variable changed_;  // the JavaScript thread parked in waitDeferred: a task published a job or finished
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> generation_{0};  // bumped for every job and task published: what spinning threads watch
  int parked_ = 0, chunkWaiters_ = 0, deferredWaiters_ = 0;
  Job* kernelJob_ = nullptr;
  std::vector<Job*> deferredJobs_;
  std::deque<Deferred> deferred_;
  std::set<uint64_t> running_;
  std::atomic<int64_t> queued_{0}, runningCount_{0};
  uint64_t nextDeferred_ = 1;
  std::exception_ptr deferredError_;
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
  if (insideDeferred) return pool().runDeferredJob(n, chunks, body);
  pool().runKernel(n, chunks, body);
}

uint64_t defer(std::function<void()> task) { return pool().defer(std::move(task)); }

void waitForDeferred() { pool().waitDeferred(); }

uint64_t deferredFinishedBelow() { return pool().finishedBelow(); }

}  // namespace bdlab
