// A workspace with a cache directory and a memory store behind a TestStore: the common
// ground of the tests that save and restore through the core pipelines.
#pragma once

#include <memory>
#include <string>

#include "hiding_store.hpp"
#include "regcache/format/anchor.hpp"
#include "regcache/store/memory/memory_store.hpp"
#include "test_helpers.hpp"

namespace regcache {

struct SaveWorkspace {
  testing::TempDir tmp;
  Anchors src{tmp / "ws", tmp / "home"};
  std::unique_ptr<Store> memory = make_memory_store("memory", tmp.path());
  TestStore store{*memory};
  std::string cache = src.workspace + "/cache";  // the directory the tests save
  int saves = 0;                                 // saves made so far (keys k1, k2, ...)
};

}  // namespace regcache
