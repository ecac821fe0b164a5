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

// An upload Location may spell the registry's origin differently: still the registry, so
// Authorization goes with it; another host or scheme is not.
TEST(Urls, SameOriginIgnoresCaseAndDefaultPorts) {
  EXPECT_TRUE(
      same_origin("https://Registry.Example.com:443/v2/x", "https://registry.example.com/v2/"));
  EXPECT_TRUE(same_origin("HTTP://h:80/a", "http://h/b"));
  EXPECT_TRUE(same_origin("http://127.0.0.1:5000/a", "http://127.0.0.1:5000/v2/"));
  EXPECT_FALSE(same_origin("https://h:8443/a", "https://h/a"));
  EXPECT_FALSE(same_origin("http://h/a", "https://h/a"));
  EXPECT_FALSE(same_origin("https://h.evil/a", "https://h/a"));
  EXPECT_FALSE(same_origin("https://h:443/a", "http://h:443/a"));
}
