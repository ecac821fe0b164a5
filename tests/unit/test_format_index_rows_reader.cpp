// The one-pass reader of the lookup index's rows against the rules it must keep: those of
// a parsed JSON value, row by row (the reader replaced that parse; the reference below is
// it), on generated texts with every kind of wrong, missing, repeated and nested field.
#include "regcache/format/index_rows_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "regcache/format/entry_index_format.hpp"
#include "regcache/format/key_tag.hpp"
#include "regcache/util/json_fields.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {
namespace {

using nlohmann::json;

// The rows a parsed JSON value gives (a repeated name: its last value), row by row.
std::optional<IndexRows> reference_rows(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("rows") || !j["rows"].is_object()) return std::nullopt;
  IndexRows out;
  for (const auto& [tag, v] : j["rows"].items()) {
    if (!is_valid_tag(tag) || !v.is_object()) continue;
    IndexRow r;
    r.digest = string_field(v, "digest");
    r.key = string_field(v, "key");
    r.created = string_field(v, "created");
    r.ref = string_field(v, "ref");
    if (!is_valid_digest(r.digest) || !validate_key(r.key).ok()) continue;
    if (r.created.size() > kMaxIndexFieldChars || r.ref.size() > kMaxIndexFieldChars) continue;
    auto files = uint_field(v, "files"), size = uint_field(v, "size");
    auto stored = uint_field(v, "stored"), layers = uint_field(v, "layers");
    if (!files || !size || !stored || !layers) continue;
    r.files = *files;
    r.size = *size;
    r.stored = *stored;
    r.layers = *layers;
    bool bad = false;
    if (auto it = v.find("signers"); it != v.end()) {
      bad = !it->is_array() || it->size() > kMaxIndexSigners;
      r.signers.emplace();
      for (const auto& s : bad ? json::array() : *it) {
        if (!s.is_string() || s.get_ref<const std::string&>().size() > kMaxIndexFieldChars) {
          bad = true;
          break;
        }
        r.signers->push_back(s.get<std::string>());
      }
    }
    if (!bad) out[tag] = std::move(r);
  }
  return out;
}

// Generates rows texts with names repeated, fields of every kind and unknown nested values.
class RowsTextGenerator {
 public:
  explicit RowsTextGenerator(uint32_t seed) : rng_(seed) {}

  std::string text() {
    std::string t = "{";
    if (pick(8) == 0) t += "\"before\":[1,{\"rows\":2}],";
    t += "\"rows\":{";
    const int rows = static_cast<int>(pick(12));
    for (int i = 0; i < rows; ++i) {
      if (i) t += ",";
      t += quoted(tag()) + ":" + row_value();
    }
    t += "}";
    if (pick(10) == 0) t += ",\"rows\":" + std::string(pick(2) ? "{}" : "7");
    return t + "}";
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  static std::string quoted(const std::string& s) { return json(s).dump(); }

  std::string tag() {
    static const std::vector<std::string> tags = {"a", "b", "build-1", "bad tag!", "c", ""};
    return tags[pick(tags.size())];
  }

  std::string row_value() {
    switch (pick(10)) {
      case 0:
        return "12";
      case 1:
        return "[{\"digest\":1}]";
      default:
        break;
    }
    std::vector<std::string> fields;
    for (const char* f : {"digest", "key", "created", "ref", "files", "size", "stored", "layers",
                          "signers", "extra"}) {
      const size_t times = pick(7) == 0 ? 0 : (pick(6) == 0 ? 2 : 1);
      for (size_t k = 0; k < times; ++k) fields.push_back(quoted(f) + ":" + field_value(f));
    }
    std::shuffle(fields.begin(), fields.end(), rng_);
    std::string t = "{";
    for (size_t i = 0; i < fields.size(); ++i) t += (i ? "," : "") + fields[i];
    return t + "}";
  }

  std::string field_value(const std::string& f) {
    const size_t wrong = pick(6);
    if (wrong == 0) {
      static const std::vector<std::string> others = {
          "null",        "true", "-3",
          "2.5",         "1e30", "\"7\"",
          "{\"x\":[1]}", "[]",   "18446744073709551615"};
      return others[pick(others.size())];
    }
    if (f == "digest") return quoted(pick(5) ? sha256_digest(std::to_string(pick(3))) : "md5:00");
    if (f == "key") return quoted(pick(5) ? "key-" + std::to_string(pick(3)) : "");
    if (f == "created" || f == "ref")
      return quoted(pick(8) ? "2024-01-0" + std::to_string(1 + pick(9)) : std::string(1025, 'x'));
    if (f == "signers") {
      std::string t = "[";
      const size_t n = pick(4) == 0 ? 17 : pick(3);
      for (size_t i = 0; i < n; ++i) {
        t += i ? "," : "";
        t += pick(10) == 0 ? (pick(2) ? "5" : "[\"SHA256:x\"]")
                           : quoted("SHA256:" + std::to_string(i));
      }
      return t + "]";
    }
    if (f == "extra") return pick(2) ? "{\"signers\":[1],\"rows\":{}}" : "[[{\"digest\":2}]]";
    return std::to_string(pick(1000));
  }

  std::mt19937 rng_;
};

TEST(IndexRowsReader, KeepsTheRulesOfAParsedValueOnGeneratedTexts) {
  size_t valid_rows = 0, empty = 0, refused = 0;
  for (uint32_t seed = 0; seed < 3000; ++seed) {
    const std::string text = RowsTextGenerator(seed).text();
    auto want = reference_rows(text);
    auto got = read_rows_json(text, kMaxIndexJsonValues);
    ASSERT_EQ(got.ok(), want.has_value()) << text;
    if (!want) {
      ++refused;
      continue;
    }
    ASSERT_EQ(*got, *want) << text;
    valid_rows += want->size();
    empty += want->empty();
  }
  // The generator reaches every outcome: rows kept, texts with none, texts refused.
  EXPECT_GT(valid_rows, 100u);
  EXPECT_GT(empty, 100u);
  EXPECT_GT(refused, 50u);
}

TEST(IndexRowsReader, OfATagNamedTwiceTheLastRowCounts) {
  const std::string good = "{\"digest\":\"" + sha256_digest("a") +
                           "\",\"key\":\"k\",\"files\":1,\"size\":2,\"stored\":3,\"layers\":4}";
  auto kept = read_rows_json("{\"rows\":{\"t\":" + good + ",\"t\":" + good + "}}", 100);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->size(), 1u);
  auto replaced = read_rows_json("{\"rows\":{\"t\":" + good + ",\"t\":{\"digest\":1}}}", 100);
  ASSERT_TRUE(replaced.ok());
  EXPECT_TRUE(replaced->empty()) << "the last row of t is not valid";
  auto rows_twice = read_rows_json("{\"rows\":{\"t\":" + good + "},\"rows\":3}", 100);
  EXPECT_FALSE(rows_twice.ok()) << "the last \"rows\" is not an object";
}

TEST(IndexRowsReader, RefusesWhatIsNotRowsJson) {
  for (const char* text :
       {"[1,2]", "{\"rows\":", "{\"rows\":{}} x", "{}", "{\"rows\":[]}", "7", ""}) {
    auto r = read_rows_json(text, 100);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::integrity) << text;
  }
  EXPECT_TRUE(read_rows_json("{\"rows\":{}}", 100).ok());
}

TEST(IndexRowsReader, StopsPastTheValueLimit) {
  const std::string text = "{\"rows\":{\"a\":{\"signers\":[0,0,0,0,0,0]}}}";  // 10 values
  EXPECT_TRUE(read_rows_json(text, 10).ok());
  auto over = read_rows_json(text, 9);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().kind, ErrorKind::integrity);
}

}  // namespace
}  // namespace regcache
