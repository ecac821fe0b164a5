#include <gtest/gtest.h>

#include "regcache/store/registry/tag_page.hpp"

using namespace regcache;

TEST(TagPage, ReadsTheTagsAndNothingElse) {
  TagList list;
  ASSERT_TRUE(
      append_tag_page(R"({"name":"o/r","tags":["a","b-1"],"x":{"tags":["no"]}})", &list).ok());
  ASSERT_TRUE(append_tag_page(R"({"name":"o/r","tags":["c"]})", &list).ok());
  ASSERT_TRUE(append_tag_page(R"({"name":"o/r","tags":null})", &list).ok());
  ASSERT_TRUE(append_tag_page(R"({"name":"o/r"})", &list).ok());
  EXPECT_EQ(list.tags, (std::vector<std::string>{"a", "b-1", "c"}));
  EXPECT_EQ(list.text_bytes, 5u);
}

TEST(TagPage, MalformedPagesAreErrors) {
  for (const char* page :
       {R"({"tags":[1]})", R"({"tags":[["a"]]})", R"({"tags":[{"a":1}]})", R"({"tags":"a"})",
        R"({"tags":{"a":"b"}})", R"(["a"])", "null", R"({"tags":["a")", ""}) {
    TagList list;
    auto st = append_tag_page(page, &list);
    ASSERT_FALSE(st.ok()) << page;
    EXPECT_EQ(st.error().kind, ErrorKind::integrity) << page;
    EXPECT_NE(st.error().message.find("malformed tag list"), std::string::npos) << page;
  }
}

// A registry cannot make a list grow without end: past the bounds, across pages, it stops.
TEST(TagPage, TheListStopsAtItsBounds) {
  TagListBounds b;
  b.max_tags = 5;
  TagList list;
  ASSERT_TRUE(append_tag_page(R"({"tags":["a","b","c"]})", &list, b).ok());
  auto st = append_tag_page(R"({"tags":["d","e","f"]})", &list, b);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("larger than regcache reads"), std::string::npos);
  EXPECT_LE(list.tags.size(), 5u);

  TagListBounds bytes;
  bytes.max_bytes = 10;
  TagList small;
  EXPECT_FALSE(append_tag_page(R"({"tags":["123456","789012"]})", &small, bytes).ok());

  TagList long_tag;
  EXPECT_FALSE(append_tag_page("{\"tags\":[\"" + std::string(129, 'x') + "\"]}", &long_tag).ok());
  EXPECT_TRUE(append_tag_page("{\"tags\":[\"" + std::string(128, 'x') + "\"]}", &long_tag).ok());
}
