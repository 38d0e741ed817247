#include "manifest.hpp"

#include "roo/core/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace roo::checkpoint {
namespace {

constexpr std::string_view manifest_format = "1";
constexpr std::string_view prefix = "manifest-";
constexpr std::string_view suffix = ".json";

core::JsonValue of_kind(core::JsonValue::Kind kind) {
  core::JsonValue value;
  value.kind = kind;
  return value;
}

core::JsonValue literal(std::string text) {
  core::JsonValue value = of_kind(core::JsonValue::Kind::literal);
  value.text = std::move(text);
  return value;
}

core::JsonValue string(std::string text) {
  core::JsonValue value = of_kind(core::JsonValue::Kind::string);
  value.text = std::move(text);
  return value;
}

core::JsonValue object(std::vector<core::JsonMember> members) {
  core::JsonValue value = of_kind(core::JsonValue::Kind::object);
  value.members = std::move(members);
  return value;
}

core::JsonValue file_json(const ChainFile& file) {
  return object({{"name", string(file.name)},
                 {"size", literal(std::to_string(file.size))},
                 {"crc32", literal(std::to_string(file.crc32))}});
}

core::JsonValue chain_json(const WorkerChain& chain) {
  core::JsonValue files = of_kind(core::JsonValue::Kind::array);
  for (const ChainFile& file : chain.files) {
    files.items.push_back(file_json(file));
  }
  return object({{"worker", string(chain.worker)}, {"files", std::move(files)}});
}

const core::JsonValue* member(const core::JsonValue& value, std::string_view key, core::JsonValue::Kind kind) {
  if (value.kind != core::JsonValue::Kind::object) {
    return nullptr;
  }
  for (const core::JsonMember& m : value.members) {
    if (m.key == key) {
      return m.value.kind == kind ? &m.value : nullptr;
    }
  }
  return nullptr;
}

template <class T>
std::optional<T> number(const core::JsonValue& value, std::string_view key) {
  const core::JsonValue* found = member(value, key, core::JsonValue::Kind::literal);
  T out{};
  if (found == nullptr) {
    return std::nullopt;
  }
  const std::string& text = found->text;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return out;
}

std::optional<ChainFile> parse_file(const core::JsonValue& value) {
  const core::JsonValue* name = member(value, "name", core::JsonValue::Kind::string);
  auto size = number<std::uint64_t>(value, "size");
  auto crc32 = number<std::uint32_t>(value, "crc32");
  if (name == nullptr || !size || !crc32) {
    return std::nullopt;
  }
  return ChainFile{.name = name->text, .size = *size, .crc32 = *crc32};
}

std::optional<WorkerChain> parse_chain(const core::JsonValue& value) {
  const core::JsonValue* worker = member(value, "worker", core::JsonValue::Kind::string);
  const core::JsonValue* files = member(value, "files", core::JsonValue::Kind::array);
  if (worker == nullptr || files == nullptr) {
    return std::nullopt;
  }
  WorkerChain chain{.worker = worker->text, .files = {}};
  for (const core::JsonValue& item : files->items) {
    auto file = parse_file(item);
    if (!file) {
      return std::nullopt;
    }
    chain.files.push_back(std::move(*file));
  }
  return chain;
}

}  // namespace

const WorkerChain* Manifest::find(std::string_view worker) const {
  auto it = std::find_if(workers.begin(), workers.end(), [&](const WorkerChain& c) { return c.worker == worker; });
  return it == workers.end() ? nullptr : &*it;
}

void Manifest::set(std::string_view worker, std::vector<ChainFile> files) {
  for (WorkerChain& chain : workers) {
    if (chain.worker == worker) {
      chain.files = std::move(files);
      return;
    }
  }
  workers.push_back(WorkerChain{.worker = std::string(worker), .files = std::move(files)});
}

bool Manifest::erase(std::string_view worker) {
  return std::erase_if(workers, [&](const WorkerChain& c) { return c.worker == worker; }) > 0;
}

std::string manifest_text(const Manifest& manifest) {
  core::JsonValue workers = of_kind(core::JsonValue::Kind::array);
  for (const WorkerChain& chain : manifest.workers) {
    workers.items.push_back(chain_json(chain));
  }
  return core::to_json(object({{"format", literal(std::string(manifest_format))},
                               {"app", string(manifest.app_name)},
                               {"fingerprint", string(manifest.fingerprint)},
                               {"checkpoint", literal(std::to_string(manifest.checkpoint_id))},
                               {"workers", std::move(workers)}})) +
         "\n";
}

std::optional<Manifest> parse_manifest(std::string_view text) {
  auto json = core::parse_json(text);
  if (!json) {
    return std::nullopt;
  }
  const core::JsonValue* format = member(*json, "format", core::JsonValue::Kind::literal);
  const core::JsonValue* app = member(*json, "app", core::JsonValue::Kind::string);
  const core::JsonValue* fingerprint = member(*json, "fingerprint", core::JsonValue::Kind::string);
  const core::JsonValue* workers = member(*json, "workers", core::JsonValue::Kind::array);
  auto id = number<std::uint64_t>(*json, "checkpoint");
  if (format == nullptr || format->text != manifest_format || app == nullptr || fingerprint == nullptr ||
      workers == nullptr || !id) {
    return std::nullopt;
  }
  Manifest manifest{.app_name = app->text, .fingerprint = fingerprint->text, .checkpoint_id = *id, .workers = {}};
  for (const core::JsonValue& item : workers->items) {
    auto chain = parse_chain(item);
    if (!chain) {
      return std::nullopt;
    }
    manifest.workers.push_back(std::move(*chain));
  }
  return manifest;
}

std::string manifest_file_name(std::uint64_t checkpoint_id) {
  return fmt::format("{}{:020}{}", prefix, checkpoint_id, suffix);
}

std::optional<std::uint64_t> manifest_id(std::string_view file_name) {
  if (file_name.size() != prefix.size() + 20 + suffix.size() || !file_name.starts_with(prefix) ||
      !file_name.ends_with(suffix)) {
    return std::nullopt;
  }
  std::string_view digits = file_name.substr(prefix.size(), 20);
  std::uint64_t id = 0;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (error != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return id;
}

}  // namespace roo::checkpoint
