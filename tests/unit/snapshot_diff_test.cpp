// The snapshot diff on hand-written snapshots: one readable line per difference.
#include "pgmt/snapshot.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace pgmt {
namespace {

using nlohmann::json;

const diff_words down_words = {"missing after down", "left behind by down", "changed by up/down:"};

std::vector<std::string> lines(const json& a, const json& b) {
  std::vector<std::string> out;
  for (const auto& d : diff_snapshots(a, b, down_words)) out.push_back(d.line);
  return out;
}

json table(std::vector<json> columns) {
  return {{"owner", "postgres"}, {"rls_enabled", false}, {"privileges", json::array()}, {"columns", columns}};
}

json column(const std::string& name, const std::string& type) {
  return {{"name", name}, {"type", type}, {"not_null", false}, {"default", nullptr}};
}

TEST(SnapshotDiff, EqualSnapshotsHaveNoDifference) {
  json s = {{"tables", {{"public.t", table({column("id", "integer")})}}}};
  EXPECT_TRUE(diff_snapshots(s, s, down_words).empty());
}

TEST(SnapshotDiff, MissingAndExtraObjects) {
  json before = {{"indexes", {{"public.notes_owner_idx", {{"definition", "CREATE INDEX ..."}}}}}};
  json after = {{"indexes", {{"public.notes_body_idx", {{"definition", "CREATE INDEX ..."}}}}}};
  EXPECT_EQ(lines(before, after),
            (std::vector<std::string>{"index public.notes_owner_idx: missing after down",
                                      "index public.notes_body_idx: left behind by down"}));
}

TEST(SnapshotDiff, ChangedFieldShowsBothValues) {
  json before = {
      {"policies",
       {{"public.notes.owner_select", {{"using", "(owner = auth.uid())"}, {"command", "SELECT"}}}}}};
  json after = {{"policies", {{"public.notes.owner_select", {{"using", "true"}, {"command", "SELECT"}}}}}};
  EXPECT_EQ(
      lines(before, after),
      (std::vector<std::string>{
          "policy public.notes.owner_select: USING changed by up/down: from (owner = auth.uid()) to true"}));
}

TEST(SnapshotDiff, ColumnsByNameAndByOrder) {
  json before = {
      {"tables",
       {{"public.t", table({column("id", "integer"), column("a", "text"), column("b", "integer")})}}}};
  json retyped = {
      {"tables",
       {{"public.t", table({column("id", "integer"), column("a", "text"), column("b", "bigint")})}}}};
  EXPECT_EQ(lines(before, retyped),
            (std::vector<std::string>{"column public.t.b: type changed by up/down: from integer to bigint"}));

  json moved = {
      {"tables",
       {{"public.t", table({column("id", "integer"), column("b", "integer"), column("a", "text")})}}}};
  EXPECT_EQ(lines(before, moved),
            (std::vector<std::string>{
                "table public.t: column order changed by up/down: from [id, a, b] to [id, b, a]"}));

  json dropped = {{"tables", {{"public.t", table({column("id", "integer"), column("b", "integer")})}}}};
  EXPECT_EQ(lines(before, dropped), (std::vector<std::string>{"column public.t.a: missing after down"}));
}

TEST(SnapshotDiff, PrivilegesOneLineEach) {
  json grant = {
      {"grantee", "app_user"}, {"privilege", "SELECT"}, {"grantable", false}, {"grantor", "postgres"}};
  json grant2 = {
      {"grantee", "PUBLIC"}, {"privilege", "EXECUTE"}, {"grantable", true}, {"grantor", "postgres"}};
  json before = {{"tables", {{"public.t", {{"privileges", {grant}}}}}}};
  json after = {{"tables", {{"public.t", {{"privileges", {grant2}}}}}}};
  EXPECT_EQ(lines(before, after),
            (std::vector<std::string>{
                "table public.t: privilege app_user SELECT (granted by postgres) missing after down",
                "table public.t: privilege PUBLIC EXECUTE WITH GRANT OPTION (granted by postgres) left "
                "behind by down"}));
}

TEST(SnapshotDiff, ListsShowTheirItems) {
  json before = {{"types", {{"public.mood", {{"kind", "enum"}, {"labels", {"sad", "ok"}}}}}}};
  json after = {{"types", {{"public.mood", {{"kind", "enum"}, {"labels", {"sad", "ok", "happy"}}}}}}};
  EXPECT_EQ(lines(before, after),
            (std::vector<std::string>{
                "type public.mood: labels changed by up/down: from [sad, ok] to [sad, ok, happy]"}));
  json f1 = {{"functions", {{"public.f()", {{"settings", json::array()}}}}}};
  json f2 = {{"functions", {{"public.f()", {{"settings", {"search_path=public"}}}}}}};
  EXPECT_EQ(
      lines(f1, f2),
      (std::vector<std::string>{
          "function public.f(): settings (SET ...) changed by up/down: from [] to [search_path=public]"}));
}

TEST(SnapshotDiff, LongValuesPointToTheFile) {
  std::string body_a(200, 'a'), body_b(200, 'b');
  json before = {{"functions", {{"public.f()", {{"body", body_a}}}}}};
  json after = {{"functions", {{"public.f()", {{"body", body_b}}}}}};
  auto diffs = diff_snapshots(before, after, down_words);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].line, "function public.f(): body changed by up/down: (both versions in the diff file)");
  auto file = std::filesystem::temp_directory_path() / "pgmt-unit-diff.txt";
  write_diff_file(file, "title", diffs);
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(body_a), std::string::npos);
  EXPECT_NE(text.find(body_b), std::string::npos);
  std::filesystem::remove(file);
}

TEST(SnapshotDiff, ContainersComeFirst) {
  json before = {{"schemas", {{"app", json::object()}}}, {"tables", {{"app.t", table({})}}}};
  json after = {{"schemas", json::object()}, {"tables", json::object()}};
  auto l = lines(before, after);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0], "schema app: missing after down");
  EXPECT_EQ(l[1], "table app.t: missing after down");
}

TEST(SnapshotText, SortedPrettyAndNewlineTerminated) {
  json s = json::parse(R"({"tables": {"b": {"x": 1}, "a": {"x": 2}}, "format": "pgmt-snapshot-1"})");
  std::string text = snapshot_text(s);
  EXPECT_LT(text.find("\"a\""), text.find("\"b\""));
  EXPECT_LT(text.find("\"format\""), text.find("\"tables\""));
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("\n  \"tables\": {\n"), std::string::npos);
}

}  // namespace
}  // namespace pgmt

namespace pgmt {
namespace {

// A file that is JSON but not a snapshot is an error, never an empty snapshot.
TEST(SnapshotShape, WhatIsNotASnapshotIsSaid) {
  EXPECT_EQ(snapshot_problem(nlohmann::json::parse(R"({"format": "pgmt-snapshot-1", "tables": {"public.t": {}}})")),
            "");
  EXPECT_EQ(snapshot_problem(nlohmann::json::parse("[1, 2, 3]")),
            "expected a JSON object of object kinds (\"tables\": {...}), found an array");
  EXPECT_EQ(snapshot_problem(nlohmann::json::parse(R"({"tables": [1]})")),
            "\"tables\" is an array, not an object of tables by name");
  EXPECT_EQ(snapshot_problem(nlohmann::json::parse(R"({"tables": {"public.t": 3}})")),
            "\"tables\".\"public.t\" is a number, not an object");
  EXPECT_EQ(snapshot_problem(nlohmann::json::parse(R"({"format": "other-1"})")),
            "\"format\" is \"other-1\", not a pgmt snapshot format (\"pgmt-snapshot-3\")");
}

}  // namespace
}  // namespace pgmt
