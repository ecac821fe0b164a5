// Raw tar entries with any header content, hostile ones included, for the unit tests.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "regcache/archive/tar_layout.hpp"

namespace regcache::testing {

// Builds raw tar entries with any header content, hostile ones included.
class RawTar {
 public:
  RawTar& add(const std::string& path, char type, const std::string& content = "",
              const std::string& link = "", unsigned mode = 0644) {
    char h[tar::kBlock] = {};
    std::memcpy(h, path.data(), std::min<size_t>(path.size(), 99));
    std::snprintf(h + tar::kMode.offset, tar::kMode.width, "%07o", mode);
    std::snprintf(h + tar::kUid.offset, tar::kUid.width, "%07o", 0);
    std::snprintf(h + tar::kGid.offset, tar::kGid.width, "%07o", 0);
    std::snprintf(h + tar::kSize.offset, tar::kSize.width, "%011lo",
                  static_cast<unsigned long>(content.size()));
    std::snprintf(h + tar::kMtime.offset, tar::kMtime.width, "%011o", 1600000000);
    h[tar::kTypeflag.offset] = type;
    std::memcpy(h + tar::kLinkname.offset, link.data(),
                std::min<size_t>(link.size(), tar::kLinkname.width - 1));
    std::memcpy(h + tar::kMagic.offset, "ustar", tar::kMagic.width);
    std::memcpy(h + tar::kVersion.offset, "00", tar::kVersion.width);
    std::memset(h + tar::kChecksum.offset, ' ', tar::kChecksum.width);
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    std::snprintf(h + tar::kChecksum.offset, tar::kChecksum.width, "%06o", sum);
    data_.append(h, 512);
    data_ += content;
    data_.append((512 - content.size() % 512) % 512, '\0');
    return *this;
  }
  // Adds an entry whose path goes in a PAX extended header ('x'), as a path past 99 bytes must.
  RawTar& add_long(const std::string& path, char type, const std::string& content = "",
                   unsigned mode = 0644) {
    const std::string body = " path=" + path + "\n";
    size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) ++len;
    add("PaxHeader", 'x', std::to_string(len) + body);
    return add(path.substr(0, 99), type, content, "", mode);
  }
  // Adds a PAX extended header ('x') holding `key=value` records, lengths computed.
  RawTar& add_pax(const std::vector<std::pair<std::string, std::string>>& records) {
    std::string text;
    for (const auto& [key, value] : records) text += pax_record(key, value);
    return add("PaxHeader", 'x', text);
  }
  static std::string pax_record(const std::string& key, const std::string& value) {
    const std::string body = " " + key + "=" + value + "\n";
    size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) ++len;
    return std::to_string(len) + body;
  }
  std::string bytes() const { return data_ + std::string(1024, '\0'); }

 private:
  std::string data_;
};

}  // namespace regcache::testing
