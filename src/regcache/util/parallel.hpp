// Runs tasks 0..n-1 on up to `jobs` threads; stops handing out tasks after the first
// failure and returns that failure.
#pragma once

#include <cstddef>
#include <functional>

#include "regcache/util/result.hpp"

namespace regcache {

// Runs fn(i) for every i in [0, n) on at most jobs threads; returns the first error.
Status parallel_for(size_t n, size_t jobs, const std::function<Status(size_t)>& fn);

}  // namespace regcache
