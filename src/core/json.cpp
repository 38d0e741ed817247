#include "roo/core/json.hpp"

#include "escape.hpp"

#include <cctype>
#include <cstdint>

namespace roo::core {
namespace {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  std::optional<JsonValue> document() {
    JsonValue value;
    if (!parse_value(value, 0)) {
      return std::nullopt;
    }
    skip_space();
    if (pos_ != text_.size()) {
      return std::nullopt;
    }
    return value;
  }

 private:
  static constexpr int max_depth = 64;

  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool parse_value(JsonValue& out, int depth) {
    if (depth > max_depth) {
      return false;
    }
    skip_space();
    if (pos_ >= text_.size()) {
      return false;
    }
    char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      out.kind = JsonValue::Kind::object;
      if (consume('}')) {
        return true;
      }
      do {
        std::string key;
        skip_space();
        if (!parse_string(key) || !consume(':')) {
          return false;
        }
        JsonValue member;
        if (!parse_value(member, depth + 1)) {
          return false;
        }
        out.members.push_back(JsonMember{std::move(key), std::move(member)});
      } while (consume(','));
      return consume('}');
    }
    if (c == '[') {
      ++pos_;
      out.kind = JsonValue::Kind::array;
      if (consume(']')) {
        return true;
      }
      do {
        JsonValue item;
        if (!parse_value(item, depth + 1)) {
          return false;
        }
        out.items.push_back(std::move(item));
      } while (consume(','));
      return consume(']');
    }
    if (c == '"') {
      out.kind = JsonValue::Kind::string;
      return parse_string(out.text);
    }
    out.kind = JsonValue::Kind::literal;
    for (std::string_view word : {"true", "false", "null"}) {
      if (text_.substr(pos_, word.size()) == word) {
        out.text = word;
        pos_ += word.size();
        return true;
      }
    }
    return parse_number(out.text);
  }

  bool parse_number(std::string& out) {
    std::size_t start = pos_;
    auto digits = [&] {
      std::size_t first = pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      return pos_ > first;
    };
    if (pos_ < text_.size() && text_[pos_] == '-') {
      ++pos_;
    }
    if (!digits()) {
      return false;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) {
        return false;
      }
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (!digits()) {
        return false;
      }
    }
    out = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  bool parse_hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) {
      return false;
    }
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char h = text_[pos_++];
      out <<= 4;
      if (h >= '0' && h <= '9') {
        out |= static_cast<std::uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        out |= static_cast<std::uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        out |= static_cast<std::uint32_t>(h - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool parse_string(std::string& out) {
    if (pos_ >= text_.size() || text_[pos_] != '"') {
      return false;
    }
    ++pos_;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') {
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return false;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) {
        return false;
      }
      char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!parse_hex4(cp)) {
            return false;
          }
          if (cp >= 0xD800 && cp < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            std::uint32_t low = 0;
            if (!parse_hex4(low) || low < 0xDC00 || low > 0xDFFF) {
              return false;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

void print(const JsonValue& value, std::string& out) {
  switch (value.kind) {
    case JsonValue::Kind::literal:
      out += value.text;
      return;
    case JsonValue::Kind::string:
      out += json_quote(value.text);
      return;
    case JsonValue::Kind::array:
      out.push_back('[');
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i > 0) {
          out.push_back(',');
        }
        print(value.items[i], out);
      }
      out.push_back(']');
      return;
    case JsonValue::Kind::object:
      out.push_back('{');
      for (std::size_t i = 0; i < value.members.size(); ++i) {
        if (i > 0) {
          out.push_back(',');
        }
        out += json_quote(value.members[i].key);
        out.push_back(':');
        print(value.members[i].value, out);
      }
      out.push_back('}');
      return;
  }
}

}  // namespace

std::optional<JsonValue> parse_json(std::string_view text) { return JsonParser(text).document(); }

std::string to_json(const JsonValue& value) {
  std::string out;
  print(value, out);
  return out;
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  append_escaped(out, text, EscapeStyle::json_string);
  out.push_back('"');
  return out;
}

void merge_json(JsonValue& target, const JsonValue& other) {
  if (target.kind != JsonValue::Kind::object || other.kind != JsonValue::Kind::object) {
    return;
  }
  for (const auto& [key, value] : other.members) {
    bool found = false;
    for (auto& [existing_key, existing] : target.members) {
      if (existing_key == key) {
        merge_json(existing, value);
        found = true;
        break;
      }
    }
    if (!found) {
      target.members.push_back(JsonMember{key, value});
    }
  }
}

}  // namespace roo::core
