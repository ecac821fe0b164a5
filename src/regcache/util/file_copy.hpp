// Copying the bytes of one open file into another.
#pragma once

#include <string>

#include "regcache/util/result.hpp"

namespace regcache {

// Copies everything from `in` (at its offset) to `out`: copy_file_range where the kernel can,
// else read and write. `shown` names the file in errors.
Status copy_file_bytes(int in, int out, const std::string& shown);

}  // namespace regcache
