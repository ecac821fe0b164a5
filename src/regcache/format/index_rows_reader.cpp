#include "regcache/format/index_rows_reader.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "regcache/format/key_tag.hpp"
#include "regcache/util/sha256.hpp"

namespace regcache {

namespace {

using nlohmann::json;

// Where a value stands: outside everything, in the top object, in "rows", in a row, in a
// row's signers, or inside something no row reads (skipped, but counted).
enum class At { outside, top, rows, row, signers, skipped };

// What the last "rows" member of the top object was.
enum class RowsMember { absent, object, other };

class RowsReader : public nlohmann::json_sax<json> {
 public:
  explicit RowsReader(size_t max_values) : max_values_(max_values) {}

  bool null() override { return value(nullptr, std::nullopt); }
  bool boolean(bool) override { return value(nullptr, std::nullopt); }
  bool number_integer(number_integer_t) override { return value(nullptr, std::nullopt); }
  bool number_unsigned(number_unsigned_t v) override { return value(nullptr, v); }
  bool number_float(number_float_t, const string_t&) override {
    return value(nullptr, std::nullopt);
  }
  bool string(string_t& s) override { return value(&s, std::nullopt); }
  bool binary(binary_t&) override { return value(nullptr, std::nullopt); }

  bool start_object(std::size_t) override {
    if (!counted()) return false;
    switch (here()) {
      case At::outside:
        top_is_object_ = true;
        return enter(At::top);
      case At::top:
        if (top_key_ != "rows") return enter(At::skipped);
        rows_member_ = RowsMember::object;
        rows_.clear();  // of "rows" named twice, the last counts
        return enter(At::rows);
      case At::rows:
        begin_row();
        return enter(At::row);
      case At::row:
        field(nullptr, std::nullopt);
        return enter(At::skipped);
      case At::signers:
      case At::skipped:
        return enter_skipped();
    }
    return false;
  }

  bool start_array(std::size_t) override {
    if (!counted()) return false;
    switch (here()) {
      case At::outside:
        return enter(At::skipped);
      case At::top:
        if (top_key_ == "rows") not_rows();
        return enter(At::skipped);
      case At::rows:
        rows_.erase(tag_);  // a row that is not an object
        return enter(At::skipped);
      case At::row:
        if (field_ != "signers") {
          field(nullptr, std::nullopt);
          return enter(At::skipped);
        }
        row_.signers.emplace();
        signers_named_ = true;
        signers_bad_ = false;
        return enter(At::signers);
      case At::signers:
      case At::skipped:
        return enter_skipped();
    }
    return false;
  }

  bool key(string_t& k) override {
    switch (here()) {
      case At::top:
        top_key_ = k;
        break;
      case At::rows:
        tag_ = k;
        break;
      case At::row:
        field_ = k;
        break;
      default:
        break;
    }
    return true;
  }

  bool end_object() override {
    if (leave() == At::row) end_row();
    return true;
  }
  bool end_array() override {
    leave();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

  // The rows read; an error unless the text was an object whose last "rows" is an object.
  Result<IndexRows> take() {
    if (!top_is_object_ || rows_member_ != RowsMember::object)
      return make_error(ErrorKind::integrity, "malformed lookup index rows");
    return std::move(rows_);
  }

 private:
  At here() const { return stack_.empty() ? At::outside : stack_.back(); }
  bool enter(At at) {
    stack_.push_back(at);
    return true;
  }
  At leave() {
    At at = here();
    if (!stack_.empty()) stack_.pop_back();
    return at;
  }
  bool counted() { return ++values_ <= max_values_; }
  // A container where nothing is read: inside a row's signers, one that is not a string.
  bool enter_skipped() {
    if (here() == At::signers) signers_bad_ = true;
    return enter(At::skipped);
  }

  void not_rows() {
    rows_member_ = RowsMember::other;
    rows_.clear();
  }

  // A scalar: s when it is a string, u when it is an unsigned integer.
  bool value(string_t* s, std::optional<uint64_t> u) {
    if (!counted()) return false;
    switch (here()) {
      case At::top:
        if (top_key_ == "rows") not_rows();
        break;
      case At::rows:
        rows_.erase(tag_);  // a row that is not an object
        break;
      case At::row:
        field(s, u);
        break;
      case At::signers:
        if (!s || s->size() > kMaxIndexFieldChars || row_.signers->size() >= kMaxIndexSigners)
          signers_bad_ = true;
        else
          row_.signers->push_back(std::move(*s));
        break;
      default:
        break;
    }
    return true;
  }

  // The current field of a row takes a value: s when it is a string, u when it is an
  // unsigned integer, neither for anything else (a field of the wrong kind).
  void field(string_t* s, std::optional<uint64_t> u) {
    auto text = [&] { return s ? std::move(*s) : std::string(); };
    if (field_ == "digest") {
      row_.digest = text();
    } else if (field_ == "key") {
      row_.key = text();
    } else if (field_ == "created") {
      row_.created = text();
    } else if (field_ == "ref") {
      row_.ref = text();
    } else if (field_ == "files") {
      files_ = u;
    } else if (field_ == "size") {
      size_ = u;
    } else if (field_ == "stored") {
      stored_ = u;
    } else if (field_ == "layers") {
      layers_ = u;
    } else if (field_ == "signers") {
      signers_named_ = true;
      signers_bad_ = true;  // not a list
    }
  }

  void begin_row() {
    row_ = IndexRow{};
    files_ = size_ = stored_ = layers_ = std::nullopt;
    signers_named_ = signers_bad_ = false;
    field_.clear();
  }

  void end_row() {
    const bool valid = is_valid_tag(tag_) && is_valid_digest(row_.digest) &&
                       validate_key(row_.key).ok() && row_.created.size() <= kMaxIndexFieldChars &&
                       row_.ref.size() <= kMaxIndexFieldChars && files_ && size_ && stored_ &&
                       layers_ && !(signers_named_ && signers_bad_);
    if (!valid) {
      rows_.erase(tag_);
      return;
    }
    row_.files = *files_;
    row_.size = *size_;
    row_.stored = *stored_;
    row_.layers = *layers_;
    if (!signers_named_) row_.signers.reset();
    rows_.insert_or_assign(tag_, std::move(row_));
  }

  const size_t max_values_;
  size_t values_ = 0;
  std::vector<At> stack_;
  bool top_is_object_ = false;
  RowsMember rows_member_ = RowsMember::absent;
  std::string top_key_, tag_, field_;
  IndexRow row_;
  std::optional<uint64_t> files_, size_, stored_, layers_;
  bool signers_named_ = false, signers_bad_ = false;
  IndexRows rows_;
};

}  // namespace

Result<IndexRows> read_rows_json(const std::string& text, size_t max_values) {
  RowsReader reader(max_values);
  if (!json::sax_parse(text, &reader))
    return make_error(ErrorKind::integrity, "malformed or oversized lookup index rows");
  return reader.take();
}

}  // namespace regcache
