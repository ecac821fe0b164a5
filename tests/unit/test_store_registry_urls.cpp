#include <gtest/gtest.h>

#include "regcache/store/registry/urls.hpp"

using namespace regcache;

// RFC 8288: rel's value quoted or not, any case, one of several space-separated relations.
TEST(Urls, NextLinkInEveryFormTheRfcAllows) {
  EXPECT_EQ(next_link_target(R"(</v2/r/tags/list?last=a&n=2>; rel="next")"),
            "/v2/r/tags/list?last=a&n=2");
  EXPECT_EQ(next_link_target("</p2>; rel=next"), "/p2");
  EXPECT_EQ(next_link_target("</p2>;rel=NEXT"), "/p2");
  EXPECT_EQ(next_link_target(R"(</p2>; rel="prev next")"), "/p2");
  EXPECT_EQ(next_link_target(R"(</p1>; rel="prev", </p3>; rel="next")"), "/p3");
  EXPECT_EQ(next_link_target(R"(</p1>; rel="prev")"), "");
  EXPECT_EQ(next_link_target(R"(</p1>; rel="nextish")"), "");
  EXPECT_EQ(next_link_target(R"(</p1>; prerel="next")"), "");
  EXPECT_EQ(next_link_target(""), "");
}
