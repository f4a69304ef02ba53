// Process lifecycle of the tracker: one atomic phase, start-up, exit report, fork handlers.
// Cold path.
#pragma once

namespace memtrack::detail {

enum class Phase : int { Uninit, Starting, Active, Stopping, Stopped };
Phase phase() noexcept;

// Starts the tracker (config, exit and fork handlers, sampler). Idempotent. Runs from the
// library constructor; unit tests may call it too.
void start() noexcept;

}  // namespace memtrack::detail
