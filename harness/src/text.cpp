#include "pgmt/text.hpp"

#include <cerrno>
#include <cstring>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace pgmt {

std::size_t find_invalid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (std::size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

std::string read_sql_file(const std::filesystem::path& path) {
  // Never open what is not a file: a FIFO would wait for a writer forever.
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(st))
    throw input_error("\"" + display_path(path) + "\" is a folder, not a SQL file; rename it or move it out");
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st))
    throw input_error("\"" + display_path(path) +
                      "\" is not a regular file (a FIFO, socket or device); a migration is a file of SQL text");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw input_error("could not read file \"" + display_path(path) + "\": " + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw input_error("could not read file \"" + display_path(path) + "\": " + std::strerror(errno));
  std::string text = buf.str();
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);
  if (text.find('\0') != std::string::npos) {
    auto pos = position_of(text, text.find('\0'));
    throw input_error(display_path(path) + ":" + std::to_string(pos.line) +
                      ": file contains a NUL byte; migrations must be UTF-8 text");
  }
  if (auto bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    auto pos = position_of(text, bad);
    throw input_error(display_path(path) + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) +
                      ": file is not valid UTF-8; save it as UTF-8 (for example with iconv -t UTF-8)");
  }
  return text;
}

text_position position_of(std::string_view text, std::size_t offset) noexcept {
  text_position p;
  if (offset > text.size()) offset = text.size();
  for (std::size_t i = 0; i < offset; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++p.line;
      p.column = 1;
    } else if ((c & 0xC0) != 0x80 && c != '\r') {
      ++p.column;
    }
  }
  return p;
}

std::size_t byte_offset_of_char(std::string_view text, int char_pos) noexcept {
  if (char_pos <= 1) return 0;
  int seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++seen;
      if (seen == char_pos) return i;
    }
  }
  return text.size();
}

std::string_view line_text(std::string_view text, int line) noexcept {
  std::size_t start = 0;
  for (int l = 1; l < line; ++l) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) return {};
    start = nl + 1;
  }
  auto end = text.find('\n', start);
  if (end == std::string_view::npos) end = text.size();
  auto out = text.substr(start, end - start);
  if (!out.empty() && out.back() == '\r') out.remove_suffix(1);
  return out;
}

std::string migration_checksum(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  std::string normalized;
  normalized.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    normalized += text[i];
  }
  return sha256_hex(normalized);
}

std::string display_path(const std::filesystem::path& path) {
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  if (ec || path.is_relative()) return path.string();
  auto rel = path.lexically_relative(cwd);
  if (rel.empty() || rel.begin()->string() == "..") return path.string();
  return rel.string();
}

std::string fast_fingerprint(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  char out[40];
  std::snprintf(out, sizeof out, "%016llx-%zx", static_cast<unsigned long long>(h), bytes.size());
  return out;
}

}  // namespace pgmt
