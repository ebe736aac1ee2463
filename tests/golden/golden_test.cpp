// Every golden case (tests/golden/data, copied from ../shared/golden, plus the
// cases scripts/gen_torch_golden.py generates under data/extra) replayed through
// the registry and compared with the reference at every step.
#include <descent/golden.h>
#include <descent/registry.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace fs = std::filesystem;

namespace {

std::vector<std::string> case_files() {
  std::vector<std::string> out;
  for (const char* sub : {"", "extra"}) {
    fs::path dir = fs::path(DESCENT_GOLDEN_DIR) / sub;
    if (!fs::exists(dir)) continue;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".json") out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string s = fs::path(info.param).stem().string();
  if (fs::path(info.param).parent_path().filename() == "extra") s = "extra_" + s;
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return s;
}

class Golden : public testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesReferenceAtEveryStep) {
  const auto c = descent::golden::load_case(GetParam());
  if (descent::Registry::instance().find(c.optimizer) == nullptr)
    GTEST_SKIP() << "optimizer '" << c.optimizer << "' is not in descent yet";
  ASSERT_FALSE(c.steps.empty());
  const auto t = descent::golden::replay(c);
  const auto r = descent::golden::compare(c, t);
  EXPECT_TRUE(r.passed) << r.detail << " (max abs err " << r.max_abs_err << ", max rel err " << r.max_rel_err << ")";
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, testing::ValuesIn(case_files()), test_name);

TEST(GoldenCoverage, EveryRegisteredOptimizerHasCases) {
  std::set<std::string> covered;
  for (const auto& f : case_files()) covered.insert(descent::golden::load_case(f).optimizer);
  for (const auto& name : descent::Registry::instance().names())
    EXPECT_TRUE(covered.count(name)) << "no golden case replays '" << name << "'";
}

}  // namespace
