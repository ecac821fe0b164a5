// One page of a registry's tag list (`{"name": ..., "tags": [...]}`), read as it streams
// through a SAX parser: a page of millions of tiny tags costs the tags, not a JSON tree
// ten times their size, and the list as a whole stops at a bound.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "regcache/util/result.hpp"

namespace regcache {

struct TagListBounds {
  size_t max_tags = 1000000;       // across all pages
  size_t max_bytes = 64ull << 20;  // of tag text, across all pages
  size_t max_tag_length = 128;     // the distribution spec's longest tag
};

// The tags read so far, and their text's size.
struct TagList {
  std::vector<std::string> tags;
  size_t text_bytes = 0;
};

// Appends the page's tags to *list; an error (ErrorKind::integrity) for malformed JSON,
// a tag that is not a string or longer than a tag can be, or a list past the bounds.
Status append_tag_page(std::string_view page, TagList* list, const TagListBounds& bounds = {});

}  // namespace regcache
