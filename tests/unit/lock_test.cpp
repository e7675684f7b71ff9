// The lock of released migrations: the lock file's form, and what the check
// finds (edits, removals, renames, new migrations out of order), against
// the lock file and against a git ref.
#include "pgmt/lock.hpp"

#include "pgmt/process.hpp"
#include "pgmt/text.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <fstream>
#include <stdexcept>

namespace pgmt {
namespace {

namespace fs = std::filesystem;

// A migrations folder in a git repository of its own, removed at the end.
class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "pgmt-unit-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    root_ = tmpl;
    dir_ = root_ / "migrations";
    fs::create_directories(dir_);
    write("0001_users.sql", "create table users (id int);\n");
    write("0002_posts.sql", "create table posts (id int);\ncreate index on posts (id);\n");
    write("0004_tags.sql", "create table tags (id int);\n");
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  [[nodiscard]] migration_set set() const { return discover(dir_); }
  void lock() const { std::ofstream(default_lock_file(dir_), std::ios::binary) << format_lock_file(set()); }
  [[nodiscard]] check_result check(const std::set<std::string>& allowed = {}) const {
    return check_lock(set(), lock_file_basis(default_lock_file(dir_)), allowed);
  }
  std::string git(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"git", "-C", root_.string(), "-c", "user.email=t@example.com",
                                     "-c", "user.name=t"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = detail::run(argv);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
  }

  fs::path root_, dir_;
};

std::string joined(const check_result& r) {
  std::string out;
  for (const auto& f : r.findings) out += f + "\n";
  return out;
}

TEST_F(LockTest, TheLockFileListsEachMigrationInOrder) {
  lock();
  const auto entries = read_lock_file(default_lock_file(dir_));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].version, "0001");
  EXPECT_EQ(entries[0].name, "users");
  EXPECT_EQ(entries[0].checksum, migration_checksum("create table users (id int);\n"));
  EXPECT_EQ(entries[2].version, "0004");
  EXPECT_EQ(entries[2].line, 5);  // after the two comment lines
  EXPECT_TRUE(check().passed()) << joined(check());
}

TEST_F(LockTest, LineEndsAndABomAreNotChanges) {
  lock();
  write("0001_users.sql", "\xEF\xBB\xBF" "create table users (id int);\r\n");
  const auto r = check();
  EXPECT_TRUE(r.passed()) << joined(r);
}

TEST_F(LockTest, AnEditedMigrationShowsItsChangedLines) {
  lock();
  git({"init", "-q"});
  git({"add", "-A"});
  git({"commit", "-qm", "released"});
  write("0002_posts.sql", "create table posts (id bigint);\ncreate index on posts (id);\n");
  const auto r = check();
  ASSERT_FALSE(r.passed());
  ASSERT_EQ(r.findings.size(), 1u);
  const std::string f = r.findings[0];
  EXPECT_NE(f.find("0002_posts.sql:1:1: migration \"0002_posts\" changed after it was locked"), std::string::npos)
      << f;
  EXPECT_NE(f.find("  -1 | create table posts (id int);\n  +1 | create table posts (id bigint);"), std::string::npos)
      << f;
  EXPECT_NE(f.find("PGMT_LOCK_ALLOW=0002"), std::string::npos) << f;
  // Allowed in an emergency: the run passes and still shows it.
  const auto allowed = check({"0002"});
  EXPECT_TRUE(allowed.passed());
  ASSERT_EQ(allowed.details.size(), 1u);
  EXPECT_EQ(allowed.details[0].rfind("allowed by PGMT_LOCK_ALLOW: ", 0), 0u);
  EXPECT_NE(allowed.note.find("allowed by PGMT_LOCK_ALLOW"), std::string::npos);
}

TEST_F(LockTest, RemovedRenamedAndRenumberedMigrations) {
  lock();
  fs::remove(dir_ / "0001_users.sql");
  fs::rename(dir_ / "0002_posts.sql", dir_ / "0002_articles.sql");
  fs::rename(dir_ / "0004_tags.sql", dir_ / "0005_tags.sql");
  const std::string f = joined(check());
  EXPECT_NE(f.find("pgmt.lock:3: the locked migration \"0001_users\" is gone from"), std::string::npos) << f;
  EXPECT_NE(f.find("0002_articles.sql:1:1: migration \"0002_articles\" was locked as \"0002_posts\""),
            std::string::npos)
      << f;
  EXPECT_NE(f.find("0005_tags.sql:1:1: migration \"0005_tags\" is the locked migration \"0004_tags\""),
            std::string::npos)
      << f;
  EXPECT_EQ(check().findings.size(), 3u) << f;
}

TEST_F(LockTest, ANewMigrationBeforeTheNewestLockedIsOutOfOrder) {
  lock();
  write("0003_late.sql", "create table late (id int);\n");
  write("0005_next.sql", "create table next (id int);\n");
  const auto r = check();
  ASSERT_EQ(r.findings.size(), 1u) << joined(r);
  EXPECT_NE(r.findings[0].find("0003_late.sql:1:1: migration \"0003_late\" is new but sorts before \"0004_tags\""),
            std::string::npos)
      << r.findings[0];
  EXPECT_NE(r.note.find("2 new"), std::string::npos) << r.note;
}

TEST_F(LockTest, BrokenLockFilesAreErrorsAtTheirLine) {
  std::ofstream(default_lock_file(dir_)) << "# c\n0001 users abc\n";
  try {
    (void)read_lock_file(default_lock_file(dir_));
    ADD_FAILURE() << "expected an error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("pgmt.lock:2: not a lock line"), std::string::npos) << e.what();
  }
  const std::string sum = migration_checksum("x");
  std::ofstream(default_lock_file(dir_)) << "0001 a " << sum << "\n<<<<<<< HEAD\n";
  try {
    (void)read_lock_file(default_lock_file(dir_));
    ADD_FAILURE() << "expected an error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("pgmt.lock:2:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("merge conflict"), std::string::npos) << e.what();
  }
  std::ofstream(default_lock_file(dir_)) << "0001 a " << sum << "\n0001 b " << sum << "\n";
  try {
    (void)read_lock_file(default_lock_file(dir_));
    ADD_FAILURE() << "expected an error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("pgmt.lock:2: version \"0001\" is locked twice (also at line 1)"),
              std::string::npos)
        << e.what();
  }
}

// Without a lock file: the migrations at a git ref (the merge-base check).
TEST_F(LockTest, AgainstAGitRef) {
  git({"init", "-q"});
  git({"add", "-A"});
  git({"commit", "-qm", "base"});
  git({"tag", "base"});
  write("0002_posts.sql", "create table posts (id int);\n");  // the index line removed
  write("0003_late.sql", "create table late (id int);\n");
  write("0001_users.sql", "create table users (id int);\r\n");  // CRLF only
  const auto r = check_lock(set(), git_basis(set(), "base"), {});
  ASSERT_EQ(r.findings.size(), 2u) << joined(r);
  EXPECT_NE(r.findings[0].find("0002_posts.sql:1:1: migration \"0002_posts\" changed after it was locked (the "
                               "files at base"),
            std::string::npos)
      << r.findings[0];
  EXPECT_NE(r.findings[0].find("  -2 | create index on posts (id);"), std::string::npos) << r.findings[0];
  EXPECT_NE(r.findings[1].find("0003_late.sql:1:1: migration \"0003_late\" is new but sorts before"),
            std::string::npos);
  try {
    (void)git_basis(set(), "no-such-ref");
    ADD_FAILURE() << "expected an error";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("\"no-such-ref\" is not a commit git knows"), std::string::npos);
  }
}

}  // namespace
}  // namespace pgmt
