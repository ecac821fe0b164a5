// Errors as values: every library function that can fail returns Result<T>.
// An Error carries a kind (so callers can tell transient from permanent, usage from
// integrity) and a one-line message that names what went wrong. Exceptions are used only
// at the command boundary (cli/main.cpp), never inside the library.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace regcache {

enum class ErrorKind {
  generic,      // anything else
  usage,        // the user asked for something malformed (exit 2)
  not_found,    // the thing asked for does not exist
  io,           // local filesystem failure
  network,      // transport failure that may succeed on retry
  auth,         // credentials missing or refused
  integrity,    // digest or size mismatch, malformed content
  hostile,      // content that tries to escape or misuse the destination
  exists,       // the target already exists
  timeout,      // the command's time budget ran out
  unsupported,  // the store refuses this kind of operation (e.g. HTTP 405 to a DELETE)
  interrupted,  // SIGINT or SIGTERM arrived: the command stops and cleans up
};

// Returns true for an error about what a store holds (malformed, missing, refused as a
// request), which anyone who may push can cause; false when the store is out of reach, our
// credentials are refused, the time budget ran out, a signal came or the user erred.
inline bool is_content_error(ErrorKind kind) {
  return kind != ErrorKind::network && kind != ErrorKind::auth && kind != ErrorKind::timeout &&
         kind != ErrorKind::interrupted && kind != ErrorKind::usage;
}

struct Error {
  ErrorKind kind = ErrorKind::generic;
  std::string message;
};

// Builds an Error with a message.
inline Error make_error(ErrorKind kind, std::string message) {
  return {kind, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace regcache

// Evaluates a Result expression; on error returns the error from the enclosing function,
// otherwise yields the value (GNU statement expression).
#define RC_TRY(expr)                                                  \
  ({                                                                  \
    auto&& rc_try_r_ = (expr);                                        \
    if (!rc_try_r_.ok()) return ::regcache::Error(rc_try_r_.error()); \
    std::move(rc_try_r_).value();                                     \
  })

// Evaluates a Status expression; on error returns it from the enclosing function.
#define RC_CHECK(expr)                                                    \
  do {                                                                    \
    auto rc_check_r_ = (expr);                                            \
    if (!rc_check_r_.ok()) return ::regcache::Error(rc_check_r_.error()); \
  } while (0)
