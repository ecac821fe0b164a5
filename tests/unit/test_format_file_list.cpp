// The file list an entry's config carries: a round trip, and lists refused as malformed.
#include <gtest/gtest.h>

#include "regcache/archive/compression.hpp"
#include "regcache/format/entry_format.hpp"
#include "regcache/format/file_list.hpp"
#include "regcache/util/base64.hpp"
#include "regcache/util/sink.hpp"

using namespace regcache;

namespace {

// Encodes raw record text as the config holds it.
std::string packed(const std::string& text) {
  StringSink out(1 << 20);
  auto zstd = make_compressor(Compression::zstd, 3, &out);
  EXPECT_TRUE(zstd->write(text.data(), text.size()).ok());
  EXPECT_TRUE(zstd->finish().ok());
  return base64_encode(out.str());
}

void expect_malformed(const std::string& encoded, const std::string& words) {
  auto r = decode_file_list(encoded);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::integrity);
  EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
}

}  // namespace

TEST(FileList, RoundTripsThroughTheConfig) {
  std::vector<FileRecord> records = {{"ws/cache", 1, 512},
                                     {"ws/cache/\nline\n", 7, 512},  // a newline in a name
                                     {"ws/cache/a b.txt", 0xffffffffffffffffull, 2048},
                                     {"ws/cache/dir/é", 42, 1536}};
  std::string config = build_config({}, encode_file_list(records));
  auto encoded = parse_config_file_list(config);
  ASSERT_TRUE(encoded.ok());
  auto back = decode_file_list(*encoded);
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ((*back)[i].path, records[i].path);
    EXPECT_EQ((*back)[i].hash, records[i].hash);
    EXPECT_EQ((*back)[i].tar_bytes, records[i].tar_bytes);
  }
  EXPECT_EQ(parse_config_file_list(build_config({})).value(), "");  // an entry without one
}

TEST(FileList, MalformedListsAreRefused) {
  std::string ok = std::string("ws/a") + '\0' + "0000000000000001" + '\0' + "512\n";
  ASSERT_TRUE(decode_file_list(packed(ok)).ok());
  expect_malformed("not base64!", "not base64");
  expect_malformed(base64_encode("not zstd"), "malformed file list");
  expect_malformed(packed(ok + ok), "not sorted");
  expect_malformed(packed(std::string("ws/../x") + '\0' + "0000000000000001" + '\0' + "1\n"),
                   "unsafe path");
  expect_malformed(packed(std::string("/abs") + '\0' + "0000000000000001" + '\0' + "1\n"),
                   "unsafe path");
  expect_malformed(packed(std::string("ws/a") + '\0' + "xyz" + '\0' + "1\n"), "not path");
  expect_malformed(packed(std::string("ws/a") + '\0' + "000000000000000g" + '\0' + "1\n"),
                   "not a number");
  expect_malformed(packed(std::string("ws/a") + '\0' + "0000000000000001" + '\0' + "\n"),
                   "not a number");
  expect_malformed(packed(ok.substr(0, ok.size() - 1)), "without its newline");
  EXPECT_FALSE(parse_config_file_list("{\"dev.regcache.file-list\": 5}").ok());
}
