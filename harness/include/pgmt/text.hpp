#pragma once
/// text: reading SQL files (UTF-8 checked, BOM removed), mapping byte offsets
/// to line:column, and the checksum pgmt records for a file.

#include <cstddef>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgmt {

/// Bad input pgmt cannot work with (a file, a suite, a setting). The message
/// names the file and, where there is one, the line.
class input_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A position in a text: 1-based line and 1-based column counted in characters.
struct text_position {
  int line = 1;
  int column = 1;
};

/// Reads path as UTF-8 text with any BOM removed; throws input_error naming the
/// file and the line of the first byte that is not UTF-8.
std::string read_sql_file(const std::filesystem::path& path);

/// Byte offset of the first invalid UTF-8 sequence in text, or npos.
std::size_t find_invalid_utf8(std::string_view text) noexcept;

/// Line and column (in characters) of byte offset in text.
text_position position_of(std::string_view text, std::size_t offset) noexcept;

/// Byte offset of the 1-based character position char_pos in text (clamped).
std::size_t byte_offset_of_char(std::string_view text, int char_pos) noexcept;

/// The text of 1-based line `line`, without its line break.
std::string_view line_text(std::string_view text, int line) noexcept;

/// SHA-256 hex digest of text after removing a BOM and reading CRLF as LF.
std::string migration_checksum(std::string_view text);

/// A fast 64-bit fingerprint of bytes (FNV-1a with the length), as hex: for
/// naming states after their text, not for anything an attacker controls.
std::string fast_fingerprint(std::string_view bytes);

/// SHA-256 hex digest of bytes.
std::string sha256_hex(std::string_view bytes);

/// path relative to the current directory when it lies under it, else as given.
std::string display_path(const std::filesystem::path& path);

}  // namespace pgmt
