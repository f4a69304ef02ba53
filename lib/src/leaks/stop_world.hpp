// Stop-the-world for the leak scan: every other thread of the process is sent a real-time
// signal whose handler records the thread's stack pointer (its registers are in the signal
// frame above it) and waits on a futex until the scan resumes the world. Threads that do not
// answer within the timeout (signal blocked, stopped by a debugger) are reported as not
// paused; the scan then treats their whole stacks as roots and writes no header. A thread
// inside one of glibc's own all-signals-blocked windows (pthread_create around clone, a
// thread's exit) gets the signal queued and is waited for until it takes it or is gone; a
// thread that exited without answering is not listed.
//
// The handler stays installed once used: a pause signal that arrives late (a thread that had
// it blocked) is recognised by its payload and ignored; signals that are not memtrack's are
// passed to the handler the program had installed. Cold path; the caller holds the Guard and
// must not take any lock another thread may hold while the world is stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace memtrack::detail {

inline constexpr std::size_t kMaxPausedThreads = 4096;

struct ThreadStop {
    pid_t tid = 0;
    std::uintptr_t sp = 0;   // lowest address of its live stack (0 if not paused)
    std::uintptr_t tcb = 0;  // its thread descriptor (pthread_self), 0 if not paused
    bool paused = false;
};

struct WorldStop {
    ThreadStop threads[kMaxPausedThreads];
    std::size_t count = 0;       // threads other than the caller (the sampler excluded)
    std::size_t not_paused = 0;  // of those, how many did not answer
    bool complete() const noexcept { return not_paused == 0; }
};

// Pauses every other thread. Fills `out`. Always pair with resume_world (even if some did not
// answer).
void stop_world(WorldStop& out) noexcept;
void resume_world(WorldStop& stop) noexcept;

// The pause signal (SIGRTMIN + 6).
int pause_signal() noexcept;

}  // namespace memtrack::detail
