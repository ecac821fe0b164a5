#include "regcache/store/registry/tag_page.hpp"

#include <nlohmann/json.hpp>

namespace regcache {

namespace {

// Collects the strings of the top-level "tags" array; everything else is skipped.
class TagPageReader : public nlohmann::json_sax<nlohmann::json> {
 public:
  TagPageReader(TagList* list, const TagListBounds& b) : list_(list), b_(b) {}

  bool null() override { return scalar(false); }  // "tags": null is an empty list
  bool boolean(bool) override { return scalar(true); }
  bool number_integer(number_integer_t) override { return scalar(true); }
  bool number_unsigned(number_unsigned_t) override { return scalar(true); }
  bool number_float(number_float_t, const string_t&) override { return scalar(true); }
  bool binary(binary_t&) override { return scalar(true); }
  bool string(string_t& s) override {
    if (!in_tags()) return scalar(true);
    if (s.size() > b_.max_tag_length) return fail("a tag longer than a tag can be");
    list_->text_bytes += s.size();
    if (list_->tags.size() >= b_.max_tags || list_->text_bytes > b_.max_bytes)
      return fail("the tag list is larger than regcache reads (" + std::to_string(b_.max_tags) +
                  " tags)");
    list_->tags.push_back(std::move(s));
    return true;
  }
  bool start_object(std::size_t) override {
    if (in_tags()) return fail("a tag that is not a string");
    if (depth_ == 1 && key_is_tags_) return fail("\"tags\" is not a list");
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    key_is_tags_ = depth_ == 1 && k == "tags";
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) return fail("not an object");
    if (in_tags()) return fail("a tag that is not a string");
    if (depth_ == 1 && key_is_tags_) tags_array_ = true;
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    if (depth_ == 1) tags_array_ = false;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return fail("not JSON");
  }

  std::string error;

 private:
  bool in_tags() const { return tags_array_ && depth_ == 2; }
  bool scalar(bool not_a_tag) {
    if (depth_ == 0) return fail("not an object");
    if (in_tags() && not_a_tag) return fail("a tag that is not a string");
    if (depth_ == 1 && key_is_tags_ && not_a_tag) return fail("\"tags\" is not a list");
    return true;
  }
  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }

  TagList* list_;
  const TagListBounds& b_;
  int depth_ = 0;
  bool key_is_tags_ = false;
  bool tags_array_ = false;
};

}  // namespace

Status append_tag_page(std::string_view page, TagList* list, const TagListBounds& bounds) {
  TagPageReader reader(list, bounds);
  const bool ok = nlohmann::json::sax_parse(page.begin(), page.end(), &reader,
                                            nlohmann::json::input_format_t::json, true);
  if (ok && reader.error.empty()) return {};
  return make_error(
      ErrorKind::integrity,
      "malformed tag list (" + (reader.error.empty() ? "not JSON" : reader.error) + ")");
}

}  // namespace regcache
