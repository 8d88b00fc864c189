// The doctest runner shared by every test executable.
//
// A run given a test-case filter (--test-case=, -tc=) that names no test case fails. ctest runs
// each discovered case by name, and a name that does not reach its case would otherwise "pass"
// without running anything: CMake splits discovered names at ';', so a case named "a; b" became
// the ctest tests "a" and " b", each running zero cases.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cctype>
#include <cstdio>
#include <string>
#include <vector>

namespace {

// doctest's name filter syntax: comma-separated patterns ("\," is a literal comma) with '*'
// and '?' wildcards, matched case-insensitively (doctest's default).
std::vector<std::string> split_filter(const std::string& value) {
  std::vector<std::string> out(1);
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size() && value[i + 1] == ',')
      out.back() += value[++i];
    else if (value[i] == ',')
      out.emplace_back();
    else
      out.back() += value[i];
  }
  return out;
}

bool wildcard_match(const char* pat, const char* s) {
  if (*pat == '\0')
    return *s == '\0';
  if (*pat == '*')
    return wildcard_match(pat + 1, s) || (*s != '\0' && wildcard_match(pat, s + 1));
  if (*s == '\0')
    return false;
  if (*pat != '?' && std::tolower(static_cast<unsigned char>(*pat))
                       != std::tolower(static_cast<unsigned char>(*s)))
    return false;
  return wildcard_match(pat + 1, s + 1);
}

struct run_record {
  std::vector<std::string> name_filters; ///< from --test-case= / -tc=, split at commas
  size_t started = 0;                    ///< test cases that ran
  size_t matched_but_skipped = 0;        ///< decorated with doctest::skip() and named by a filter
};

run_record& record() {
  static run_record r;
  return r;
}

/// Counts the test cases that ran, and those a name filter selected that doctest::skip() kept
/// from running (those are deliberately not run, not missing).
struct filter_guard : doctest::IReporter {
  explicit filter_guard(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData&) override { ++record().started; }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData& tc) override {
    if (!tc.m_skip)
      return;
    for (auto& f : record().name_filters)
      if (wildcard_match(f.c_str(), tc.m_name)) {
        ++record().matched_but_skipped;
        return;
      }
  }
};

} // namespace

DOCTEST_REGISTER_LISTENER("dtt_filter_guard", 1, filter_guard);

int main(int argc, char** argv) {
  bool query = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    for (const char* prefix : {"--test-case=", "-tc=", "--dt-test-case=", "--dt-tc="})
      if (a.rfind(prefix, 0) == 0)
        for (auto& f : split_filter(a.substr(std::string(prefix).size())))
          record().name_filters.push_back(f);
    for (const char* q : {"-h", "--help", "-?", "-v", "--version", "-c", "--count", "-ltc",
                          "--list-test-cases", "-lts", "--list-test-suites", "-lr",
                          "--list-reporters"})
      if (a == q || a.rfind(std::string(q) + "=", 0) == 0)
        query = true;
  }
  doctest::Context context(argc, argv);
  int rc = context.run();
  if (context.shouldExit() || query)
    return rc;
  auto& r = record();
  if (!r.name_filters.empty() && r.started == 0 && r.matched_but_skipped == 0) {
    std::fprintf(stderr, "[dtt] no test case matches the --test-case filter: nothing ran\n");
    return rc != 0 ? rc : 1;
  }
  return rc;
}
