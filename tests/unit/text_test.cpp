#include "pgmt/text.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace pgmt {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Checksum, IgnoresBomAndCrlf) {
  const std::string lf = "create table a (id int);\nselect 1;\n";
  EXPECT_EQ(migration_checksum(lf), migration_checksum("\xEF\xBB\xBF" + lf));
  EXPECT_EQ(migration_checksum(lf), migration_checksum("create table a (id int);\r\nselect 1;\r\n"));
  EXPECT_NE(migration_checksum(lf), migration_checksum(lf + " "));
}

TEST(FastFingerprint, KnownValueAndOneByteChanges) {
  EXPECT_EQ(fast_fingerprint(""), "cbf29ce484222325-0");  // FNV-1a's offset basis
  EXPECT_EQ(fast_fingerprint("a"), "af63dc4c8601ec8c-1");
  const std::string text = "create table a (id int);\n";
  EXPECT_EQ(fast_fingerprint(text), fast_fingerprint(std::string(text)));
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string edited = text;
    edited[i] = static_cast<char>(edited[i] ^ 1);
    EXPECT_NE(fast_fingerprint(edited), fast_fingerprint(text)) << "byte " << i;
  }
  EXPECT_NE(fast_fingerprint(text), fast_fingerprint(text + "\n"));
}

TEST(Utf8, FindsFirstInvalidByte) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xE9z"), 2u);        // Latin-1 é
  EXPECT_EQ(find_invalid_utf8("\xC0\xAF"), 0u);       // overlong
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);  // surrogate
  EXPECT_EQ(find_invalid_utf8("x\xE2\x82"), 1u);      // truncated
}

TEST(Position, CountsLinesAndCharacters) {
  const std::string t = "ab\n\xC3\xA9x\nlast";
  EXPECT_EQ(position_of(t, 0).line, 1);
  EXPECT_EQ(position_of(t, 1).column, 2);
  auto p = position_of(t, 5);  // 'x' after the two-byte é
  EXPECT_EQ(p.line, 2);
  EXPECT_EQ(p.column, 2);
  EXPECT_EQ(position_of(t, t.size()).line, 3);
  EXPECT_EQ(line_text(t, 2), "\xC3\xA9x");
  EXPECT_EQ(line_text(t, 3), "last");
  EXPECT_EQ(line_text(t, 9), "");
}

TEST(Position, CharacterToByteOffset) {
  const std::string t = "\xC3\xA9t\xC3\xA9 x";
  EXPECT_EQ(byte_offset_of_char(t, 1), 0u);
  EXPECT_EQ(byte_offset_of_char(t, 2), 2u);
  EXPECT_EQ(byte_offset_of_char(t, 3), 3u);
  EXPECT_EQ(byte_offset_of_char(t, 5), 6u);
  EXPECT_EQ(byte_offset_of_char(t, 99), t.size());
}

class ReadSqlFile : public ::testing::Test {
 protected:
  std::filesystem::path dir_ =
      std::filesystem::temp_directory_path() /
      ("pgmt-text-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  void SetUp() override { std::filesystem::create_directories(dir_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path write(const std::string& name, const std::string& bytes) {
    std::ofstream(dir_ / name, std::ios::binary) << bytes;
    return dir_ / name;
  }
};

TEST_F(ReadSqlFile, RemovesBom) {
  EXPECT_EQ(read_sql_file(write("a.sql", "\xEF\xBB\xBFselect 1;")), "select 1;");
}

TEST_F(ReadSqlFile, RejectsLatin1WithLineAndColumn) {
  auto f = write("latin1.sql", "select 1;\nselect 'caf\xE9';\n");
  try {
    read_sql_file(f);
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("latin1.sql:2:12: file is not valid UTF-8"), std::string::npos)
        << e.what();
  }
}

TEST_F(ReadSqlFile, RejectsNulBytes) {
  auto f = write("nul.sql", std::string("select 1;\n\0\n", 12));
  EXPECT_THROW(read_sql_file(f), input_error);
}

TEST_F(ReadSqlFile, MissingFileNamesIt) {
  try {
    read_sql_file(dir_ / "missing.sql");
    FAIL();
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.sql"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgmt
