#include "regcache/cli/validators.hpp"

#include <string>

#include "regcache/util/units.hpp"

namespace regcache {

namespace {

constexpr long kMaxSeconds = 10'000'000;  // about 115 days

}  // namespace

CLI::Validator non_empty() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        return value.empty() ? std::string("an empty value (leave the option out instead)") : "";
      },
      "");
}

CLI::Validator duration_in_seconds(ZeroMeans zero) {
  const std::string want =
      zero == ZeroMeans::no_limit
          ? "a number of seconds (0: no limit) or a duration such as 90s or 5m"
          : "a number of seconds greater than 0, or a duration such as 90s or 5m";
  return CLI::Validator(
      [zero, want](std::string& value) -> std::string {
        auto plain = parse_seconds(value);
        double seconds = plain.ok() ? *plain : 0;
        if (!plain.ok()) {
          auto d = parse_duration(value);
          if (!d.ok()) return "'" + value + "' is not " + want;
          seconds = static_cast<double>(d->count());
        }
        if (seconds > kMaxSeconds)
          return "'" + value + "' is too long: at most " + std::to_string(kMaxSeconds / 86400) +
                 "d (10,000,000 seconds)" +
                 (zero == ZeroMeans::no_limit ? "; 0 means no limit" : "");
        if (!(seconds >= 0) || (seconds == 0 && zero == ZeroMeans::invalid))
          return "'" + value + "' is not " + want;
        value = std::to_string(seconds);
        return {};
      },
      "DURATION");
}

void add_timeout_option(CLI::App* command, double* seconds) {
  command
      ->add_option("--timeout", *seconds,
                   "Give up after this long (seconds, or 5m; 0: no limit), retries included "
                   "(default " +
                       std::to_string(static_cast<long>(*seconds)) + "s)")
      ->transform(duration_in_seconds(ZeroMeans::no_limit));
}

}  // namespace regcache
