// Reads a lookup index's rows JSON ({"rows":{TAG:{...}}}) in one pass, without building the
// JSON value: 10,000 rows as a parsed JSON value are about 100,000 maps and strings, which
// cost a lookup more than the requests it saves (docs/decisions.md, "Reading the lookup
// index").
#pragma once

#include <cstddef>
#include <string>

#include "regcache/format/entry_index_format.hpp"

namespace regcache {

// Returns the valid rows of text; a row whose tag, digest, key or any field is invalid or
// of the wrong kind is dropped, and of a tag named twice the last row counts (as in a parsed
// JSON object). An ErrorKind::integrity error when text is malformed JSON, holds more than
// max_values values, or is not an object whose "rows" is an object.
Result<IndexRows> read_rows_json(const std::string& text, size_t max_values);

}  // namespace regcache
