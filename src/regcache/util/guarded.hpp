// Runs a task and turns an exception escaping it into an error, so that one thread's
// surprise (a library that throws, an allocation failure) ends the command with a message
// instead of std::terminate.
#pragma once

#include <exception>
#include <new>
#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Returns fn()'s status, or an error naming the exception it threw.
template <class Fn>
Status guarded(Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return make_error(ErrorKind::generic, "out of memory");
  } catch (const std::exception& e) {
    return make_error(ErrorKind::generic, std::string("internal error: ") + e.what());
  } catch (...) {
    return make_error(ErrorKind::generic, "internal error: an unknown exception");
  }
}

}  // namespace regcache
