// The process's limit on open descriptors: the walk, the removal of an old tree and the
// examination before a swap hold one descriptor per level of a tree.
#pragma once

namespace regcache {

// Raises the soft limit on open descriptors to the hard one (at most 65,536); children
// inherit it. Without the raise, a tree deeper than about 1,000 levels failed with EMFILE.
void raise_open_file_limit();

}  // namespace regcache
